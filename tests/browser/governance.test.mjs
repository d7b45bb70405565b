// Registration governance in Chromium (`mcp-oauth dev` with MCP_OAUTH_REGISTRATION_APPROVAL):
// the auto-client registers itself and waits for approval, the person sees the authorization
// server's "waiting for approval" page instead of a redirect, the operator approves it with
// `mcp-oauth admin clients approve`, and the same person then signs in and fetches MCP data.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../interop/processes.mjs';
import { AUTH_SERVER, launchChromium, scenario, startDev } from './harness.mjs';
import { assertNoError, consentPage, openHome, signUp, statusIs, text } from './pages.mjs';

const AUTO_CLIENT = { name: 'auto-client', url: 'http://localhost:3002' };

describe('registration approval in Chromium', () => {
  let dev;
  let browser;

  before(async () => {
    dev = await startDev({
      name: 'governance',
      clients: [`${AUTO_CLIENT.url}/`],
      env: { MCP_OAUTH_REGISTRATION_APPROVAL: 'true' },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  /** The `admin clients list --pending` lines (tab-separated) of the dev data directory. */
  async function pendingClients() {
    const listing = await runCommand(['admin', '--data-dir', dev.dataDir, 'clients', 'list', '--pending']);
    return listing.split('\n').filter((line) => line.trim() !== '');
  }

  test('a new client waits on a page until the operator approves it, then signs in', async () => {
    const { page, shot, close } = await scenario(browser, 'governance-approval');
    try {
      await openHome(page, AUTO_CLIENT);
      await page.click('#login');
      await page.waitForURL(`${AUTH_SERVER}/authorize**`);
      await shot('waiting-for-approval');
      const heading = await text(page, 'h1');
      assert.equal(heading, 'Waiting for approval');
      const body = await text(page, 'body');
      assert.match(body, new RegExp(`is waiting for approval by the operator of ${AUTH_SERVER}`));
      assert.equal(new URL(page.url()).origin, AUTH_SERVER, 'no redirect to the client');

      const pending = await pendingClients();
      assert.equal(pending.length, 1, `one client waits: ${pending.join('\n')}`);
      const [clientId, , status, path] = pending[0].split('\t');
      assert.deepEqual([status, path], ['pending', 'open']);
      const approved = await runCommand(['admin', '--data-dir', dev.dataDir, 'clients', 'approve', clientId]);
      assert.match(approved, /approved client/);
      assert.deepEqual(await pendingClients(), []);

      await openHome(page, AUTO_CLIENT);
      await page.click('#login');
      await signUp(page, { email: 'approved-client-user@example.com', password: 'a long browser password' });
      await consentPage(page);
      await shot('consent-after-approval');
      await page.click('#allow');
      await page.waitForURL(`${AUTO_CLIENT.url}/**`);
      await statusIs(page, 'Signed in');
      assert.equal(await text(page, '#registration .client-id'), clientId);
      await page.click('#fetch');
      await page.waitForSelector('#tool-result pre');
      await shot('mcp-data');
      await assertNoError(page);
    } finally {
      await close();
    }
  });
});
