// An upstream OpenID provider for the federation tests of mcp-oauth: the certified
// `oidc-provider` package on loopback, one provider per port given in OIDC_PROVIDER_PORTS
// (comma-separated; 0 picks a free port; issuer http://127.0.0.1:<port>), each with one
// confidential client for the embedded authorization server and a sign-in form made for tests.
//
//   OIDC_PROVIDER_PORTS=0,0 node server.js
//
// The client (`mcp-oauth`, secret `mcp-oauth-test-secret`) is a native application whose
// redirect URIs are http://127.0.0.1/login/callback and http://localhost/login/callback: the
// provider compares loopback redirect URIs without their port (RFC 8252 §7.3), so an
// authorization server on any loopback port can use it.
//
// The sign-in form (GET /interaction/:uid) asks for a user name and has a "Cancel" button;
// any user name signs in (the account's e-mail is <name>@example.com), Cancel answers the
// authorization request with `access_denied`. Consent is given without a page (a first-party
// client).
// Prints "ready <issuer>" for each provider once it listens.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

export const CLIENT_ID = 'mcp-oauth';
export const CLIENT_SECRET = 'mcp-oauth-test-secret';

/** One RSA signing key as a private JWK. */
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function configuration() {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/login/callback', 'http://localhost/login/callback'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomUUID()] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // The scopes' claims go into the ID token, as Cognito's do.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.com`, email_verified: true };
        },
      };
    },
  };
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

/** A first-party client: what it asks for is granted without a consent page. */
async function grantConsent(provider, req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const saved = await grant.save();
  return provider.interactionFinished(req, res, { consent: grantId ? {} : { grantId: saved } }, { mergeWithLastSubmission: true });
}

/** The sign-in form and its two answers; consent is given without asking. */
async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    return send(res, 400, '<p>This sign-in does not belong to this browser.</p>');
  }
  if (details.prompt.name === 'consent') {
    return grantConsent(provider, req, res, details);
  }
  if (req.method === 'GET' && action === undefined) {
    return send(res, 200, `<!doctype html><title>Test provider sign-in</title>
<h1>Sign in to the test provider</h1>
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>User name <input name="login" autofocus required></label>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Cancel</button></form>`);
  }
  if (req.method === 'POST' && action === 'login') {
    const login = ((await readForm(req)).get('login') || '').trim();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(login)) {
      return send(res, 400, '<p>Enter a user name (letters, digits, dot, dash, underscore).</p>');
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'abort') {
    return provider.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'the user cancelled the sign-in' },
      { mergeWithLastSubmission: false },
    );
  }
  return send(res, 404, '<p>Not found.</p>');
}

/** Listens on `port` first (0: any free one), so the issuer names the actual port. */
function start(port) {
  let provider;
  let handle;
  const server = createServer((req, res) => {
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/.exec(req.url.split('?')[0]);
    if (!match) {
      return handle(req, res);
    }
    interaction(provider, req, res, match[1], match[2]).catch((error) => {
      send(res, 400, `<p>${escapeHtml(error.message)}</p>`);
    });
  });
  server.listen(port, '127.0.0.1', () => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    provider = new Provider(issuer, configuration());
    handle = provider.callback();
    console.log(`ready ${issuer}`);
  });
}

const ports = (process.env.OIDC_PROVIDER_PORTS || '9100').split(',').map((p) => Number.parseInt(p, 10));
for (const port of ports) {
  start(port);
}
