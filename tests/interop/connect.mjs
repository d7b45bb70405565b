// Connecting the MCP TypeScript SDK client (StreamableHTTPClientTransport with an
// OAuthClientProvider) to a protected MCP endpoint: the first connection's 401, the sign-in it
// leads to and the code exchange, or a connection with the provider's current tokens.

import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** A connected SDK client, after the 401, the sign-in and the code exchange it leads to. */
export async function signInAndConnect(mcpUrl, provider) {
  const url = new URL(mcpUrl);
  const unauthorized = new Client({ name: 'mcp-oauth-interop', version: '1.0.0' });
  await assert.rejects(
    unauthorized.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })),
    UnauthorizedError,
    'the first connection should need a sign-in',
  );
  assert.equal(provider.signIns.length, 1, 'the SDK should have sent the person to sign in once');
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await transport.finishAuth(provider.signIns[0].code);
  return connect(mcpUrl, provider);
}

/** A client connected with the provider's current tokens. */
export async function connect(mcpUrl, provider) {
  const client = new Client({ name: 'mcp-oauth-interop', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider }));
  return client;
}
