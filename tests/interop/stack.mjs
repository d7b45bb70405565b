// The real mcp-oauth authorization server and MCP server, started on free loopback ports with a
// throwaway data directory, for one test file. Their output goes to log files in the artifacts
// directory; `stop()` ends both (the test's `after` hook calls it, also after a failure).

import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The mcp-oauth binary under test: $MCP_OAUTH_BIN (scripts/test sets it). */
export function binary() {
  const path = process.env.MCP_OAUTH_BIN;
  if (!path) throw new Error('MCP_OAUTH_BIN must name the mcp-oauth binary (cargo build -p mcp-oauth)');
  return path;
}

/** Where this suite's logs go: $ARTIFACTS_DIR/interop, else a temporary directory. */
export async function artifactsDir() {
  const dir = process.env.ARTIFACTS_DIR
    ? join(process.env.ARTIFACTS_DIR, 'interop')
    : await mkdtemp(join(tmpdir(), 'mcp-oauth-interop-artifacts-'));
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Starts the authorization server and the MCP server. `name` prefixes the log files;
 * `authServerEnv` adds environment variables for the authorization server (a CA file for
 * TLS, say). Returns their URLs, helpers for users, and `stop()`.
 */
export async function startStack({ name, authServerEnv = {} }) {
  const bin = binary();
  const logs = await artifactsDir();
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-oauth-interop-'));
  const authPort = await freePort();
  const mcpPort = await freePort();
  const issuer = `http://localhost:${authPort}`;
  const mcpUrl = `http://localhost:${mcpPort}/mcp`;
  const processes = [];

  const stop = async () => {
    await Promise.all(processes.map(stopProcess));
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    processes.push(
      await startProcess(bin, ['auth-server'], {
        log: join(logs, `${name}-auth-server.log`),
        env: {
          AUTH_SERVER_BIND: `127.0.0.1:${authPort}`,
          AUTH_SERVER_ISSUER: issuer,
          AUTH_SERVER_RESOURCES: mcpUrl,
          AUTH_SERVER_CIMD_ALLOW_PRIVATE_ADDRESSES: 'true',
          MCP_OAUTH_DATA_DIR: dataDir,
          ...authServerEnv,
        },
        ready: `${issuer}/.well-known/oauth-authorization-server`,
      }),
    );
    processes.push(
      await startProcess(bin, ['mcp-server'], {
        log: join(logs, `${name}-mcp-server.log`),
        env: {
          MCP_SERVER_BIND: `127.0.0.1:${mcpPort}`,
          MCP_SERVER_URL: mcpUrl,
          MCP_ISSUERS: issuer,
        },
        ready: `http://localhost:${mcpPort}/.well-known/oauth-protected-resource/mcp`,
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const admin = (...args) =>
    run(bin, ['admin', '--data-dir', dataDir, ...args], { env: cleanEnv() });

  return {
    issuer,
    mcpUrl,
    stop,
    /** Adds an account with `mcp-oauth admin users add`. */
    async addUser(email, password) {
      const adding = admin('users', 'add', '--email', email, '--password-stdin');
      adding.child.stdin.end(`${password}\n`);
      await adding;
    },
    /** The user id (the tokens' `sub`) of the account with this e-mail. */
    async userId(email) {
      const { stdout } = await admin('users', 'list');
      const line = stdout.split('\n').find((row) => row.split('\t')[1] === email);
      if (!line) throw new Error(`no user ${email} in:\n${stdout}`);
      return line.split('\t')[0];
    },
  };
}

/** The environment without settings of ours a developer's shell or .env might carry. */
function cleanEnv(extra = {}) {
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (/^(AUTH_SERVER_|MCP_SERVER_|MCP_ISSUER|MCP_OAUTH_|DATABASE_URL$)/.test(key)) delete env[key];
  }
  return { ...env, ...extra };
}

/**
 * Spawns `bin args` in a temporary working directory (so no `.env` file is read), logging to
 * `log`, and waits until `ready` answers 200; fails early if the process exits.
 */
async function startProcess(bin, args, { log, env, ready }) {
  const cwd = await mkdtemp(join(tmpdir(), 'mcp-oauth-cwd-'));
  const logFile = await open(log, 'w');
  const child = spawn(bin, args, { cwd, env: cleanEnv(env), stdio: ['ignore', logFile.fd, logFile.fd] });
  const entry = { child, logFile, cwd, exited: once(child, 'exit') };
  const deadline = Date.now() + 30_000;
  let exit;
  entry.exited.then(([code, signal]) => (exit = { code, signal }));
  while (true) {
    if (exit) {
      await logFile.close();
      throw new Error(`mcp-oauth ${args.join(' ')} exited (${exit.code ?? exit.signal}) before answering; log: ${log}`);
    }
    try {
      const response = await fetch(ready);
      await response.arrayBuffer();
      if (response.ok) return entry;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stopProcess(entry);
      throw new Error(`mcp-oauth ${args.join(' ')} did not answer ${ready} within 30 s; log: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Ends a started process (SIGTERM, then SIGKILL after 10 s) and closes its log. */
async function stopProcess({ child, logFile, cwd, exited }) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await logFile.close().catch(() => {});
  await rm(cwd, { recursive: true, force: true });
}
