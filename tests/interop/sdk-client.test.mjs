// Interop: the official MCP TypeScript SDK client (StreamableHTTPClientTransport with an
// OAuthClientProvider) against mcp-oauth's authorization server and MCP server. The SDK does
// the discovery, registration, PKCE and token requests itself; the provider plays the person
// on the sign-in and consent pages. Each test ends by calling `whoami` and checking that the
// MCP server saw the signed-in user, this client and this resource.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, signInAndConnect } from './connect.mjs';
import { localhostCertificates, serveMetadataDocument } from './metadata-document.mjs';
import { HeadlessProvider } from './provider.mjs';
import { startStack } from './stack.mjs';

const REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/** Lists the tools, calls `whoami` and returns what the server verified. */
async function whoami(client) {
  const { tools } = await client.listTools();
  assert.ok(tools.some((tool) => tool.name === 'whoami'), `whoami is not among ${tools.map((t) => t.name)}`);
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  assert.ok(!result.isError, `whoami failed: ${JSON.stringify(result)}`);
  return result.structuredContent;
}

/** Checks the authorization request the SDK built. */
function assertAuthorizationRequest(signIn, { mcpUrl, clientId }) {
  const parameters = signIn.authorizationUrl.searchParams;
  assert.equal(parameters.get('response_type'), 'code');
  assert.equal(parameters.get('code_challenge_method'), 'S256');
  assert.equal(parameters.get('resource'), mcpUrl);
  assert.equal(parameters.get('client_id'), clientId);
  assert.equal(parameters.get('redirect_uri'), REDIRECT_URL);
}

/** Checks `whoami`'s answer: this issuer, this user, this client, this resource. */
function assertVerified(verified, { issuer, subject, clientId, mcpUrl }) {
  assert.equal(verified.authenticated, true);
  assert.equal(verified.issuer, issuer);
  assert.equal(verified.subject, subject);
  assert.equal(verified.client_id, clientId);
  assert.deepEqual([verified.audience].flat(), [mcpUrl]);
  assert.ok(verified.scopes.includes('mcp:read'), `scopes ${verified.scopes} lack mcp:read`);
}

describe('the MCP TypeScript SDK client', () => {
  let certificates;
  let document;
  let stack;

  before(async () => {
    certificates = await localhostCertificates();
    // The document lives on localhost, so the authorization server must name it as a trusted
    // local document: any other loopback URL would be refused.
    document = await serveMetadataDocument(certificates, (url) => ({
      client_id: url,
      client_name: 'MCP TypeScript SDK interop test (CIMD)',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }));
    stack = await startStack({
      name: 'sdk-client',
      authServerEnv: {
        SSL_CERT_FILE: certificates.caFile,
        AUTH_SERVER_CIMD_TRUSTED_LOCAL_DOCUMENTS: document.url,
      },
    });
  });

  after(async () => {
    await stack?.stop();
    await document?.close();
    await certificates?.remove();
  });

  test('registers with DCR, signs in, consents, calls whoami, and refreshes', async () => {
    const email = 'interop-dcr@example.com';
    const password = 'interop password one';
    await stack.addUser(email, password);
    const provider = new HeadlessProvider({
      redirectUrl: REDIRECT_URL,
      person: { email, password },
      issuer: stack.issuer,
    });

    const client = await signInAndConnect(stack.mcpUrl, provider);
    const clientId = provider.clientInformation()?.client_id;
    assert.ok(clientId && !clientId.startsWith('http'), `expected a registered client id, got ${clientId}`);
    const [signIn] = provider.signIns;
    assertAuthorizationRequest(signIn, { mcpUrl: stack.mcpUrl, clientId });
    assert.deepEqual(
      signIn.steps.filter((step) => step.startsWith('POST')),
      ['POST /login', 'POST /authorize'],
      `the person should sign in and consent: ${signIn.steps.join(' → ')}`,
    );

    const subject = await stack.userId(email);
    assertVerified(await whoami(client), { issuer: stack.issuer, subject, clientId, mcpUrl: stack.mcpUrl });
    await client.close();

    // The tokens are kept: a new connection needs no sign-in.
    const again = await connect(stack.mcpUrl, provider);
    assertVerified(await whoami(again), { issuer: stack.issuer, subject, clientId, mcpUrl: stack.mcpUrl });
    assert.equal(provider.signIns.length, 1);
    await again.close();

    // An access token the server refuses: the SDK refreshes (the server rotates the refresh
    // token) and carries on without a sign-in.
    const { refresh_token: refreshToken } = provider.tokens();
    assert.ok(refreshToken, 'the token response should carry a refresh token');
    provider.saveTokens({ ...provider.tokens(), access_token: 'not-a-valid-token' });
    const refreshed = await connect(stack.mcpUrl, provider);
    assertVerified(await whoami(refreshed), { issuer: stack.issuer, subject, clientId, mcpUrl: stack.mcpUrl });
    assert.equal(provider.signIns.length, 1, 'a refresh needs no sign-in');
    assert.notEqual(provider.tokens().refresh_token, refreshToken, 'the refresh token should have been rotated');
    await refreshed.close();
  });

  test('uses a Client ID Metadata Document, signs up, consents and calls whoami', async () => {
    const email = 'interop-cimd@example.com';
    const provider = new HeadlessProvider({
      redirectUrl: REDIRECT_URL,
      person: { email, password: 'interop password two', signUp: true },
      issuer: stack.issuer,
      clientMetadataUrl: document.url,
    });

    const client = await signInAndConnect(stack.mcpUrl, provider);
    assert.equal(provider.clientInformation()?.client_id, document.url, 'the SDK should use the document URL as client_id');
    const [signIn] = provider.signIns;
    assertAuthorizationRequest(signIn, { mcpUrl: stack.mcpUrl, clientId: document.url });
    assert.deepEqual(
      signIn.steps.filter((step) => step.startsWith('POST')),
      ['POST /signup', 'POST /authorize'],
      `the person should sign up and consent: ${signIn.steps.join(' → ')}`,
    );
    assert.ok(document.fetches() >= 1, 'the authorization server should have fetched the metadata document');

    const subject = await stack.userId(email);
    assertVerified(await whoami(client), {
      issuer: stack.issuer,
      subject,
      clientId: document.url,
      mcpUrl: stack.mcpUrl,
    });
    await client.close();
  });
});
