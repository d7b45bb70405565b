// Two-step verification (TOTP, RFC 6238) in Chromium with `mcp-oauth dev` (policy `optional`):
// the demo user sets it up from the account page, reading the key from the page and computing
// the code here (HMAC-SHA1 with node's crypto), sees the recovery codes once, signs out, then
// logs in to the demo web client with the password and a code (a wrong one first), consents
// and gets MCP data.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AUTH_SERVER, launchChromium, scenario, startDev } from './harness.mjs';
import { assertNoError, consentPage, openHome, signIn, statusIs, text } from './pages.mjs';

const CLIENT = { name: 'client', url: 'http://localhost:3000' };

/** The bytes of an RFC 4648 base32 text (spaces and padding ignored). */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    assert.ok(index >= 0, `not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** The 6-digit TOTP code of `key` (base32) for the 30-second step `offset` steps from now. */
function totp(key, offset = 0) {
  const step = Math.floor(Date.now() / 1000 / 30) + offset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(key)).update(counter).digest();
  const start = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(start) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

describe('two-step verification in Chromium', () => {
  let dev;
  let browser;

  before(async () => {
    dev = await startDev({ name: 'mfa', clients: [`${CLIENT.url}/`] });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  test('set up on the account page, then sign in with the password and a computed code', async () => {
    const { page, shot, close } = await scenario(browser, 'mfa');
    try {
      // Signed in on the authorization server's own account page.
      await page.goto(`${AUTH_SERVER}/login`);
      await signIn(page, dev.demoUser);
      await page.waitForURL(`${AUTH_SERVER}/`);
      assert.match(await text(page, '#mfa-status'), /^Off/);
      await page.click('#mfa-setup');
      await page.waitForURL(`${AUTH_SERVER}/account/two-step`);
      assert.equal(await page.locator('.qr svg').count(), 1, 'the QR code is inline SVG');
      await shot('setup');
      const key = await text(page, '#manual-key');
      assert.match(key, /^[A-Z2-7]{4}( [A-Z2-7]{4})+$/);

      // A wrong code is refused on the same page, with the same key.
      await page.fill('#code', totp(key, 5));
      await page.click('#confirm');
      await page.waitForSelector('.error');
      assert.equal(await text(page, '#manual-key'), key);
      await shot('setup-wrong-code');

      await page.fill('#code', totp(key));
      await page.click('#confirm');
      await page.waitForSelector('#recovery-codes');
      const codes = await page.locator('#recovery-codes code').allTextContents();
      assert.equal(codes.length, 10);
      for (const code of codes) assert.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
      await shot('recovery-codes');
      await page.click('#continue');
      await page.waitForURL(`${AUTH_SERVER}/`);
      assert.match(await text(page, '#mfa-status'), /^On/);
      await page.click('form[action="/logout"] button');
      await page.waitForSelector('a[href="/login"]');

      // The demo web client: password, then the code (the next step's: the current one may
      // be the code just used to set it up, which is never accepted twice).
      await openHome(page, CLIENT);
      await page.click('#login');
      await signIn(page, dev.demoUser);
      await page.waitForURL(`${AUTH_SERVER}/login/code`);
      await shot('code-asked');
      await page.fill('#code', '12ab');
      await page.click('#verify');
      await page.waitForSelector('.error');
      assert.match(await text(page, '.error'), /6-digit code/);
      await page.fill('#code', totp(key, 1));
      await page.click('#verify');
      await consentPage(page);
      await shot('consent');
      await page.click('#allow');
      await page.waitForURL(`${CLIENT.url}/**`);
      await statusIs(page, 'Signed in');
      await page.click('#fetch');
      await page.waitForSelector('#tool-result pre');
      await shot('mcp-data');
      await assertNoError(page);
    } finally {
      await close();
    }
  });
});
