// Interop: the official MCP TypeScript SDK client with its OAuth provider signs in through
// `mcp-oauth dev --upstream-url` (the whole local stack, its MCP endpoint being the proxy) in
// front of the TypeScript SDK's `server-everything` over Streamable HTTP, and uses its tools,
// resources and prompts. server-everything is installed by scripts/services/proxy-peers.sh
// (MCP_OAUTH_EVERYTHING_SERVER, MCP_OAUTH_NODE); without it the suite is skipped, unless
// MCP_OAUTH_REQUIRE_SERVICES=1, which makes it fail.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, signInAndConnect } from './connect.mjs';
import { artifactsDir, freePort, startProcess, stopProcess } from './processes.mjs';
import { HeadlessProvider } from './provider.mjs';

const REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/** How long server-everything gets to listen after it is started. */
const START_TIMEOUT_MS = 30_000;

const everything = process.env.MCP_OAUTH_EVERYTHING_SERVER;
if (!everything && process.env.MCP_OAUTH_REQUIRE_SERVICES === '1') {
  throw new Error('MCP_OAUTH_REQUIRE_SERVICES=1 but MCP_OAUTH_EVERYTHING_SERVER is not set (scripts/services/proxy-peers.sh)');
}
const skip = everything ? false : 'MCP_OAUTH_EVERYTHING_SERVER is not set (scripts/services/proxy-peers.sh)';

/** server-everything in Streamable HTTP mode on a free port; resolves once it answers. */
async function startEverything() {
  const port = await freePort();
  const child = spawn(process.env.MCP_OAUTH_NODE ?? 'node', [everything, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}/mcp`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`server-everything did not listen on ${port}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** `mcp-oauth dev` on free ports in front of `upstreamUrl`; its URLs, its demo user, `stop()`. */
async function startDev(upstreamUrl) {
  const logs = await artifactsDir('interop');
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-oauth-interop-proxy-'));
  const [auth, mcp, client, auto, cimd] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const issuer = `http://localhost:${auth}`;
  const mcpUrl = `http://localhost:${mcp}/mcp`;
  const bind = (port) => `127.0.0.1:${port}`;
  const url = (port) => `http://localhost:${port}`;
  let dev;
  try {
    dev = await startProcess(
      ['dev', '--data-dir', dataDir, '--upstream-url', upstreamUrl],
      {
        log: join(logs, 'proxy-dev.log'),
        env: {
          AUTH_SERVER_BIND: bind(auth),
          AUTH_SERVER_ISSUER: issuer,
          AUTH_SERVER_RESOURCES: mcpUrl,
          MCP_SERVER_BIND: bind(mcp),
          MCP_SERVER_URL: mcpUrl,
          MCP_ISSUERS: issuer,
          CLIENT_BIND: bind(client),
          CLIENT_URL: url(client),
          AUTO_CLIENT_BIND: bind(auto),
          AUTO_CLIENT_URL: url(auto),
          CIMD_CLIENT_BIND: bind(cimd),
          CIMD_CLIENT_URL: url(cimd),
        },
        ready: [`${issuer}/.well-known/oauth-authorization-server`, `${url(mcp)}/.well-known/oauth-protected-resource/mcp`],
      },
    );
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  // The demo user dev created, as it printed it: "EMAIL\nPASSWORD\n".
  const [email, password] = (await readFile(join(dataDir, 'demo-user.txt'), 'utf8')).trim().split('\n');
  return {
    issuer,
    mcpUrl,
    person: { email, password },
    async stop() {
      await stopProcess(dev);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

describe('the MCP TypeScript SDK client through mcp-oauth dev --upstream-url server-everything', { skip }, () => {
  let upstream;
  let dev;

  before(async () => {
    upstream = await startEverything();
    dev = await startDev(upstream.url);
  });

  after(async () => {
    await dev?.stop();
    await upstream?.stop();
  });

  test('signs in through the proxy and uses tools, resources and prompts', async () => {
    const provider = new HeadlessProvider({ redirectUrl: REDIRECT_URL, person: dev.person, issuer: dev.issuer });
    const client = await signInAndConnect(dev.mcpUrl, provider);
    const [signIn] = provider.signIns;
    assert.equal(signIn.authorizationUrl.searchParams.get('resource'), dev.mcpUrl);

    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    assert.ok(names.includes('echo') && names.includes('get-sum'), `tools: ${names}`);

    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'through the proxy' } });
    assert.ok(!echoed.isError, JSON.stringify(echoed));
    assert.equal(echoed.content[0].text, 'Echo: through the proxy');
    const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    assert.match(sum.content[0].text, /\b5\b/);

    const { resources } = await client.listResources();
    assert.ok(resources.length > 0, 'server-everything lists resources');
    const read = await client.readResource({ uri: resources[0].uri });
    assert.ok(read.contents.length > 0, JSON.stringify(read));

    const { prompts } = await client.listPrompts();
    assert.ok(prompts.some((prompt) => prompt.name === 'simple-prompt'), JSON.stringify(prompts));
    const prompt = await client.getPrompt({ name: 'simple-prompt', arguments: {} });
    assert.ok(prompt.messages.length > 0, JSON.stringify(prompt));
    await client.close();

    // The tokens are kept: a new session through the proxy needs no sign-in.
    const again = await connect(dev.mcpUrl, provider);
    const repeated = await again.callTool({ name: 'echo', arguments: { message: 'again' } });
    assert.equal(repeated.content[0].text, 'Echo: again');
    assert.equal(provider.signIns.length, 1);
    await again.close();
  });
});
