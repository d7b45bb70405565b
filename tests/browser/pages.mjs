// The authorization server's pages as a person uses them (ids from
// crates/authorization-server/templates).

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
