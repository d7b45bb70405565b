// The three demo web clients of `mcp-oauth dev` in Chromium, as a person uses them: log in
// (sign in, or sign up), consent, come back, fetch MCP data, see the tool result, log out;
// and the error paths: deny consent, mistype the password.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AUTH_SERVER, MCP_SERVER, launchChromium, scenario, startDev } from './harness.mjs';
import { assertNoError, assertNoSecrets, consentPage, logOut, openHome, signIn, signUp, statusIs, text } from './pages.mjs';

/** The clients, how each gets its credentials, and who logs in to it. */
const CLIENTS = [
  { name: 'client', url: 'http://localhost:3000', signsUp: false },
  { name: 'auto-client', url: 'http://localhost:3002', signsUp: true },
  {
    name: 'cimd-client',
    url: 'http://localhost:3003',
    signsUp: false,
    clientId: 'http://localhost:3003/client-metadata.json',
  },
];

const NEW_PASSWORD = 'a long browser password';

/** Clicks "Log in" and waits for the authorization server's sign-in page. */
async function startLogin(page) {
  await page.click('#login');
  await page.waitForURL(`${AUTH_SERVER}/login**`);
}

describe('the demo web clients in Chromium', () => {
  let dev;
  let browser;

  before(async () => {
    dev = await startDev({ name: 'clients', clients: CLIENTS.map((client) => `${client.url}/`) });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  for (const client of CLIENTS) {
    describe(`${client.name} (${client.url})`, () => {
      test(`${client.signsUp ? 'sign up' : 'sign in'}, consent, fetch MCP data, log out`, async () => {
        const { page, shot, close } = await scenario(browser, `${client.name}-log-in-fetch-log-out`);
        try {
          await openHome(page, client);
          await shot('home');
          await startLogin(page);
          await shot('sign-in-page');
          const person = client.signsUp
            ? { email: `${client.name}-user@example.com`, password: NEW_PASSWORD }
            : dev.demoUser;
          if (client.signsUp) await signUp(page, person);
          else await signIn(page, person);
          await consentPage(page);
          await shot('consent');
          await page.click('#allow');

          await page.waitForURL(`${client.url}/**`);
          await statusIs(page, 'Signed in');
          await shot('signed-in');
          await assertNoError(page);
          await assertNoSecrets(page, dev);
          const subject = await dev.userId(person.email);
          assert.equal(await text(page, '#discovery .issuer'), AUTH_SERVER);
          assert.equal(await text(page, '#discovery .resource'), MCP_SERVER);
          const clientId = await text(page, '#registration .client-id');
          if (client.clientId) assert.equal(clientId, client.clientId);
          assert.equal(await text(page, '#claims .claim-sub'), subject);

          await page.click('#fetch');
          await page.waitForSelector('#tool-result pre');
          await shot('mcp-data');
          await assertNoError(page);
          const tools = await page.locator('#tools li').allTextContents();
          assert.ok(tools.map((name) => name.trim()).includes('whoami'), `whoami is not among ${tools}`);
          const result = await text(page, '#tool-result pre');
          assert.ok(result.includes(subject), `the whoami result should name the user ${subject}: ${result}`);
          assert.ok(result.includes(MCP_SERVER), `the whoami result should name the resource: ${result}`);
          assert.ok(result.includes(clientId), `the whoami result should name the client ${clientId}: ${result}`);
          await assertNoSecrets(page, dev);

          await logOut(page, shot);
        } finally {
          await close();
        }
      });

      test('deny consent: the client shows access_denied', async () => {
        const { page, shot, close } = await scenario(browser, `${client.name}-deny-consent`);
        try {
          await openHome(page, client);
          await startLogin(page);
          // A new account, so the consent page is shown whatever was allowed before.
          await signUp(page, { email: `${client.name}-denies@example.com`, password: NEW_PASSWORD });
          await consentPage(page);
          await shot('consent');
          await page.click('#deny');

          await page.waitForURL(`${client.url}/**`);
          await page.waitForSelector('#error');
          await shot('access-denied');
          assert.match(await text(page, '#error'), /access_denied/);
          await statusIs(page, 'Signed out');
        } finally {
          await close();
        }
      });

      test('wrong password: the sign-in page says so and the client stays signed out', async () => {
        const { page, shot, close } = await scenario(browser, `${client.name}-wrong-password`);
        try {
          await openHome(page, client);
          await startLogin(page);
          await signIn(page, { email: dev.demoUser.email, password: 'not the password' });
          await page.waitForSelector('[role=alert]');
          await shot('refused');
          assert.match(await text(page, '[role=alert]'), /Wrong e-mail or password/);
          assert.equal(new URL(page.url()).pathname, '/login');

          await openHome(page, client);
          await shot('client-still-signed-out');
        } finally {
          await close();
        }
      });
    });
  }

  test('signing in to one client signs in no other', async () => {
    const { page, shot, close } = await scenario(browser, 'clients-sessions-are-separate');
    try {
      const [first, ...others] = CLIENTS;
      await openHome(page, first);
      await startLogin(page);
      await signUp(page, { email: 'one-client-only@example.com', password: NEW_PASSWORD });
      await consentPage(page);
      await page.click('#allow');
      await page.waitForURL(`${first.url}/**`);
      await statusIs(page, 'Signed in');
      for (const other of others) {
        await openHome(page, other);
        await shot(`${other.name}-signed-out`);
      }
      await page.goto(`${first.url}/`);
      await statusIs(page, 'Signed in');
    } finally {
      await close();
    }
  });
});
