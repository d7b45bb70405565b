// What every browser test needs: `mcp-oauth dev` on its usual ports with a throwaway data
// directory, headless Chromium (the Debian package, driven by playwright-core), a fresh
// browser context per scenario, and numbered screenshots of each step in
// $ARTIFACTS_DIR/browser/<scenario>/.

import { readFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { artifactsDir, startProcess, stopProcess } from '../interop/processes.mjs';
import { userId } from '../interop/stack.mjs';

/** The authorization server of `mcp-oauth dev`. */
export const AUTH_SERVER = 'http://localhost:9000';
/** The MCP server of `mcp-oauth dev` (the resource the tokens are for). */
export const MCP_SERVER = 'http://localhost:3001/mcp';

/** The ports `mcp-oauth dev` listens on: authorization server, MCP server, the three clients. */
const DEV_PORTS = [9000, 3001, 3000, 3002, 3003];

/** Where Chromium is (CHROMIUM_BIN overrides, as in scripts/services/chromium.sh). */
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/**
 * Chromium's flags. Without the background-networking ones it keeps trying to reach Google's
 * services, which on a closed network only slows it down. Playwright gives each launch a
 * fresh, temporary user data directory.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Fails clearly when something already listens on a port `mcp-oauth dev` needs. */
async function assertPortFree(port) {
  const listening = await new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (listening) {
    throw new Error(`port ${port} is in use (another \`mcp-oauth dev\`?); the browser tests need it for mcp-oauth dev`);
  }
}

/**
 * Starts `mcp-oauth dev` with a new data directory and waits until the authorization server,
 * the MCP server and each URL in `clients` answer. `env` adds environment variables (the
 * upstream providers of a federated `dev`, say). Returns its data directory (for `mcp-oauth
 * admin --data-dir`), the demo user, the pre-registered demo client's secret, `userId(email)`
 * and `stop()`.
 */
export async function startDev({ name, clients = [], env = {} }) {
  await Promise.all(DEV_PORTS.map(assertPortFree));
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-oauth-browser-'));
  const logs = await artifactsDir('browser');
  let dev;
  try {
    dev = await startProcess(['dev'], {
      log: join(logs, `${name}-dev.log`),
      env: { ...env, MCP_OAUTH_DATA_DIR: dataDir },
      ready: [
        `${AUTH_SERVER}/.well-known/oauth-authorization-server`,
        'http://localhost:3001/.well-known/oauth-protected-resource/mcp',
        ...clients,
      ],
    });
    const [email, password] = (await readFile(join(dataDir, 'demo-user.txt'), 'utf8')).split('\n');
    const demoClientSecret = (await readFile(join(dataDir, 'demo-client.txt'), 'utf8')).split('\n')[1];
    return {
      dataDir,
      demoUser: { email, password },
      demoClientSecret,
      userId: (address) => userId(dataDir, address),
      stop: async () => {
        await stopProcess(dev);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (dev) await stopProcess(dev);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Launches headless Chromium. */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A new browser context (its own cookies) and page for one scenario, with `shot(step)`
 * saving a full-page screenshot as `<NN>-<step>.png` in $ARTIFACTS_DIR/browser/<scenario>/.
 */
export async function scenario(browser, name) {
  const dir = join(await artifactsDir('browser'), name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  let count = 0;
  return {
    context,
    page,
    async shot(step) {
      count += 1;
      await page.screenshot({ path: join(dir, `${String(count).padStart(2, '0')}-${step}.png`), fullPage: true });
    },
    close: () => context.close(),
  };
}
