// Federated sign-in in Chromium: `mcp-oauth dev` whose authorization server sends people to an
// upstream OpenID provider (tests/oidc-provider, started by tests/browser/run and scripts/test
// through scripts/services/oidc-provider.sh, which export its issuer as
// MCP_OAUTH_OIDC_PROVIDER_URL). With the auto-client: log in, sign in at the provider, consent
// here, come back signed in, fetch MCP data as the local user linked to the provider's account,
// log out; and cancel at the provider: the client shows access_denied.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AUTH_SERVER, MCP_SERVER, launchChromium, scenario, startDev } from './harness.mjs';
import { assertNoError, assertNoSecrets, consentPage, logOut, openHome, statusIs, text } from './pages.mjs';

/** The client the person uses: it registers itself with Dynamic Client Registration. */
const CLIENT = { name: 'auto-client', url: 'http://localhost:3002' };

/** This server's client at the provider (tests/oidc-provider/server.js). */
const UPSTREAM_CLIENT_ID = 'mcp-oauth';
const UPSTREAM_CLIENT_SECRET = 'mcp-oauth-test-secret';

/** The provider's issuer, exported by oidc_provider_start. */
function providerUrl() {
  const url = process.env.MCP_OAUTH_OIDC_PROVIDER_URL;
  if (!url) {
    throw new Error(
      'MCP_OAUTH_OIDC_PROVIDER_URL is not set: run the suite with tests/browser/run or scripts/test, which start the upstream provider',
    );
  }
  return url;
}

/** Clicks "Log in" and waits for the provider's sign-in form (no local sign-in page between). */
async function loginAtProvider(page, provider) {
  await page.click('#login');
  await page.waitForURL(`${provider}/interaction/**`);
  await page.waitForSelector('input[name=login]');
}

describe('federated sign-in at an upstream OpenID provider in Chromium', () => {
  let provider;
  let dev;
  let browser;

  before(async () => {
    provider = providerUrl();
    dev = await startDev({
      name: 'federation',
      clients: [`${CLIENT.url}/`],
      env: {
        AUTH_SERVER_UPSTREAM_ISSUERS: provider,
        AUTH_SERVER_UPSTREAM_CLIENT_IDS: UPSTREAM_CLIENT_ID,
        AUTH_SERVER_UPSTREAM_CLIENT_SECRETS: UPSTREAM_CLIENT_SECRET,
      },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('sign in at the provider, consent here, fetch MCP data as the linked local user, log out', async () => {
    const { page, shot, close } = await scenario(browser, 'federation-sign-in-fetch-log-out');
    // The provider's account; it asserts the e-mail <name>@example.com, which names the local user.
    const upstreamAccount = 'browser-federated';
    const email = `${upstreamAccount}@example.com`;
    try {
      await assert.rejects(dev.userId(email), /no user/, 'no local user before the first sign-in');
      await openHome(page, CLIENT);
      await shot('home');
      await loginAtProvider(page, provider);
      await shot('provider-sign-in');
      await page.fill('input[name=login]', upstreamAccount);
      await page.getByRole('button', { name: 'Sign in' }).click();

      await consentPage(page);
      assert.ok(page.url().startsWith(`${AUTH_SERVER}/`), `the consent page should be this server's: ${page.url()}`);
      await shot('consent');
      await page.click('#allow');

      await page.waitForURL(`${CLIENT.url}/**`);
      await statusIs(page, 'Signed in');
      await shot('signed-in');
      await assertNoError(page);
      await assertNoSecrets(page, dev);
      // The first sign-in created the local user; the tokens are this server's, for it.
      const subject = await dev.userId(email);
      assert.notEqual(subject, upstreamAccount, "the token's subject is the local user, not the provider's");
      assert.equal(await text(page, '#discovery .issuer'), AUTH_SERVER);
      assert.equal(await text(page, '#discovery .resource'), MCP_SERVER);
      assert.equal(await text(page, '#claims .claim-sub'), subject);
      const clientId = await text(page, '#registration .client-id');

      await page.click('#fetch');
      await page.waitForSelector('#tool-result pre');
      await shot('mcp-data');
      await assertNoError(page);
      const whoami = JSON.parse(await text(page, '#tool-result pre'));
      assert.equal(whoami.subject, subject, `whoami should name the local user ${subject}`);
      assert.equal(whoami.issuer, AUTH_SERVER, 'the MCP server verified a token of this server, not of the provider');
      assert.deepEqual(whoami.audience, [MCP_SERVER]);
      assert.equal(whoami.client_id, clientId);
      await assertNoSecrets(page, dev);

      await logOut(page, shot);
    } finally {
      await close();
    }
  });

  test('cancel at the provider: the client shows access_denied', async () => {
    const { page, shot, close } = await scenario(browser, 'federation-cancel-at-provider');
    try {
      await openHome(page, CLIENT);
      await loginAtProvider(page, provider);
      await shot('provider-sign-in');
      await page.getByRole('button', { name: 'Cancel' }).click();

      await page.waitForURL(`${CLIENT.url}/**`);
      await page.waitForSelector('#error');
      await shot('access-denied');
      assert.match(await text(page, '#error'), /access_denied/);
      await statusIs(page, 'Signed out');
    } finally {
      await close();
    }
  });
});
