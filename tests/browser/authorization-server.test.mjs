// The authorization server of `mcp-oauth dev` in Chromium, for an OAuth client registered
// here with Dynamic Client Registration: what a person sees when they sign up and allow, deny
// consent, or mistype their password. The client's redirect URI is answered by the browser
// context itself (nothing listens there), so the test reads the redirect the server sends.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AUTH_SERVER, MCP_SERVER, launchChromium, scenario, startDev } from './harness.mjs';
import { consentPage, signIn, signUp } from './pages.mjs';

const REDIRECT_URI = 'http://127.0.0.1:4999/callback';
const CLIENT_NAME = 'Browser test client';

/** Registers a public client with Dynamic Client Registration; returns its id. */
async function registerClient() {
  const response = await fetch(`${AUTH_SERVER}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: CLIENT_NAME,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  const body = await response.json();
  assert.equal(response.status, 201, `registration failed: ${JSON.stringify(body)}`);
  return body.client_id;
}

/** A fresh authorization request (PKCE S256, state, resource) and what checks its answer. */
function authorizationRequest(clientId) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(`${AUTH_SERVER}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'mcp:read',
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource: MCP_SERVER,
  }).toString();
  return { url: url.href, verifier, state };
}

/** Answers the client's redirect URI in this browser context with a small page. */
async function answerRedirects(context) {
  await context.route(`${REDIRECT_URI}**`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!doctype html><h1>The client received the redirect</h1>' }),
  );
}

/** Waits for the redirect back to the client; returns its query parameters. */
async function redirectBack(page) {
  await page.waitForURL(`${REDIRECT_URI}**`);
  return new URL(page.url()).searchParams;
}

describe('the authorization server in Chromium', () => {
  let dev;
  let browser;
  let clientId;

  before(async () => {
    dev = await startDev({ name: 'authorization-server' });
    browser = await launchChromium();
    clientId = await registerClient();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('sign up and allow: the code buys an access token for the MCP server', async () => {
    const { context, page, shot, close } = await scenario(browser, 'authorization-server-sign-up-and-allow');
    try {
      await answerRedirects(context);
      const request = authorizationRequest(clientId);
      await page.goto(request.url);
      await page.waitForURL(`${AUTH_SERVER}/login**`);
      await shot('sign-in-page');
      const person = { email: 'browser-signup@example.com', password: 'a long browser password' };
      await signUp(page, person);
      await consentPage(page, CLIENT_NAME);
      await shot('consent');
      await page.click('#allow');
      const answer = await redirectBack(page);
      await shot('redirected-back');

      assert.equal(answer.get('state'), request.state);
      assert.equal(answer.get('iss'), AUTH_SERVER);
      const response = await fetch(`${AUTH_SERVER}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: answer.get('code'),
          redirect_uri: REDIRECT_URI,
          client_id: clientId,
          code_verifier: request.verifier,
          resource: MCP_SERVER,
        }),
      });
      const tokens = await response.json();
      assert.equal(response.status, 200, `token request failed: ${JSON.stringify(tokens)}`);
      const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'));
      assert.equal(claims.sub, await dev.userId(person.email));
      assert.deepEqual([claims.aud].flat(), [MCP_SERVER]);
      assert.equal(claims.client_id, clientId);
    } finally {
      await close();
    }
  });

  test('deny consent: the client gets access_denied and no code', async () => {
    const { context, page, shot, close } = await scenario(browser, 'authorization-server-deny-consent');
    try {
      await answerRedirects(context);
      const request = authorizationRequest(clientId);
      await page.goto(request.url);
      await signIn(page, dev.demoUser);
      await consentPage(page, CLIENT_NAME);
      await shot('consent');
      await page.click('#deny');
      const answer = await redirectBack(page);
      await shot('redirected-back');

      assert.equal(answer.get('error'), 'access_denied');
      assert.equal(answer.get('state'), request.state);
      assert.equal(answer.get('iss'), AUTH_SERVER);
      assert.equal(answer.get('code'), null);
    } finally {
      await close();
    }
  });

  test('wrong password: the sign-in page says so and nobody is signed in', async () => {
    const { page, shot, close } = await scenario(browser, 'authorization-server-wrong-password');
    try {
      await page.goto(authorizationRequest(clientId).url);
      await signIn(page, { email: dev.demoUser.email, password: 'not the password' });
      await page.waitForSelector('[role=alert]');
      await shot('refused');
      assert.match(await page.textContent('[role=alert]'), /Wrong e-mail or password/);
      assert.equal(new URL(page.url()).pathname, '/login');
      assert.equal(await page.locator('#allow').count(), 0, 'no consent page after a wrong password');

      const account = await page.context().newPage();
      await account.goto(AUTH_SERVER);
      assert.match(await account.textContent('body'), /You are not signed in/);
      await account.close();

      // The right password then carries on with the same authorization request.
      await signIn(page, dev.demoUser);
      await consentPage(page, CLIENT_NAME);
      await shot('consent-after-right-password');
    } finally {
      await close();
    }
  });
});
