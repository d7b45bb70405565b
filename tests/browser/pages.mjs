// The pages a person uses: the authorization server's (ids from
// crates/authorization-server/templates) and the demo web clients' (ids from
// crates/demo/templates/web).

import assert from 'node:assert/strict';
import { AUTH_SERVER } from './harness.mjs';

/** Fills in and submits the sign-in form the page shows. */
export async function signIn(page, { email, password }) {
  await page.waitForURL(`${AUTH_SERVER}/login**`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#sign-in');
}

/** From the sign-in page, follows "Create one" and submits the sign-up form. */
export async function signUp(page, { email, password }) {
  await page.waitForURL(`${AUTH_SERVER}/login**`);
  await page.click('#signup');
  await page.waitForURL(`${AUTH_SERVER}/signup**`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.fill('#password_confirm', password);
  await page.click('#create-account');
}

/** Waits for the consent page and, given `clientName`, checks that it names the client. */
export async function consentPage(page, clientName) {
  await page.waitForSelector('#allow');
  if (clientName) {
    const text = await page.textContent('body');
    assert.ok(text.includes(clientName), `the consent page should name ${clientName}: ${text}`);
  }
}

/** Waits until the client's `#status` reads `text`. */
export async function statusIs(page, text) {
  await page.waitForFunction((expected) => document.querySelector('#status')?.textContent.trim() === expected, text);
}

/** The trimmed text of `selector`, failing when it is not on the page. */
export async function text(page, selector) {
  const found = await page.textContent(selector, { timeout: 5_000 });
  return found.trim();
}

/** Asserts that the page shows no `#error`. */
export async function assertNoError(page) {
  const count = await page.locator('#error').count();
  assert.equal(count, 0, count ? `unexpected error: ${await text(page, '#error')}` : '');
}

/** Asserts that the page shows no token (a JWT) and not the demo client's secret. */
export async function assertNoSecrets(page, dev) {
  const html = await page.content();
  assert.doesNotMatch(html, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, 'the page should show no token');
  assert.ok(dev.demoClientSecret, 'mcp-oauth dev should keep the demo client secret in its data directory');
  assert.ok(!html.includes(dev.demoClientSecret), 'the page should not show the client secret');
}

/** Opens the client's home page, signed out. */
export async function openHome(page, client) {
  await page.goto(`${client.url}/`);
  await statusIs(page, 'Signed out');
}

/** Presses "Log out" and checks the client is signed out without an error (screenshot `signed-out`). */
export async function logOut(page, shot) {
  await page.click('#logout');
  await statusIs(page, 'Signed out');
  await shot('signed-out');
  await assertNoError(page);
}
