// Several authorization servers in Chromium (`mcp-oauth dev --second-authorization-server`):
// the MCP server's metadata lists both, the auto-client asks the person where to sign in, the
// person picks the second one and signs in there, the choice is remembered after logging out,
// and "Choose another" asks again.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AUTH_SERVER, launchChromium, scenario, startDev } from './harness.mjs';
import { assertNoError, consentPage, logOut, openHome, signIn, statusIs, text } from './pages.mjs';

const AUTO_CLIENT = { name: 'auto-client', url: 'http://localhost:3002' };
const SECOND_SERVER = 'http://localhost:9001';

describe('several authorization servers in Chromium', () => {
  let dev;
  let browser;

  before(async () => {
    dev = await startDev({
      name: 'authorization-servers',
      clients: [`${AUTO_CLIENT.url}/`, `${SECOND_SERVER}/.well-known/oauth-authorization-server`],
      env: { MCP_OAUTH_SECOND_AUTHORIZATION_SERVER: 'true' },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('the MCP server lists both, and the person chooses where to sign in', async () => {
    const metadata = await (await fetch('http://localhost:3001/.well-known/oauth-protected-resource/mcp')).json();
    assert.deepEqual(metadata.authorization_servers, [AUTH_SERVER, SECOND_SERVER]);

    const { page, shot, close } = await scenario(browser, 'authorization-servers');
    try {
      await openHome(page, AUTO_CLIENT);
      await page.click('#login');
      await page.waitForSelector('#chooser');
      await shot('chooser');
      const offered = await page.$$eval('.choose-authorization-server', (buttons) =>
        buttons.map((button) => button.textContent.trim()),
      );
      assert.deepEqual(offered, [AUTH_SERVER, SECOND_SERVER]);
      await assertNoError(page);

      await page.click(`.choose-authorization-server >> text=${SECOND_SERVER}`);
      // The second server's sign-in page (its own users; `dev` created the demo user there).
      await page.waitForURL(`${SECOND_SERVER}/login**`);
      await page.fill('#email', dev.demoUser.email);
      await page.fill('#password', dev.demoUser.password);
      await page.click('#sign-in');
      await consentPage(page);
      await page.click('#allow');
      await page.waitForURL(`${AUTO_CLIENT.url}/**`);
      await statusIs(page, 'Signed in');
      assert.equal(await text(page, '#discovery .issuer'), SECOND_SERVER);
      assert.equal(await text(page, '#claims .claim-iss'), SECOND_SERVER);
      await page.click('#fetch');
      await page.waitForSelector('#tool-result pre');
      await shot('mcp-data-from-the-second-server');
      await assertNoError(page);
      await logOut(page, shot);

      // Remembered: "Log in" goes straight to the second server, which still has this
      // browser's sign-in and consent, so it comes back signed in without the chooser.
      await page.click('#login');
      await statusIs(page, 'Signed in');
      assert.equal(await page.locator('#chooser').count(), 0);
      assert.equal(await text(page, '#discovery .issuer'), SECOND_SERVER);
      await shot('remembered-choice');

      // "Choose another" (beside the issuer, since the MCP server lists several) asks again.
      await page.click('#choose-again');
      await page.waitForSelector('#chooser');
      await page.click(`.choose-authorization-server >> text=${AUTH_SERVER}`);
      await signIn(page, dev.demoUser);
      await consentPage(page);
      await page.click('#allow');
      await page.waitForURL(`${AUTO_CLIENT.url}/**`);
      await statusIs(page, 'Signed in');
      assert.equal(await text(page, '#discovery .issuer'), AUTH_SERVER);
      await shot('signed-in-at-the-first-server');
    } finally {
      await close();
    }
  });
});
