// Running the mcp-oauth binary under test: start a command, wait until it answers, stop it.
// Shared by this suite and tests/browser (it uses only Node's own modules, so the browser
// suite imports it by path).

import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** How long a server gets to answer after it is started. */
const START_TIMEOUT_MS = 30_000;

/** The mcp-oauth binary under test: $MCP_OAUTH_BIN (scripts/test sets it). */
export function binary() {
  const path = process.env.MCP_OAUTH_BIN;
  if (!path) throw new Error('MCP_OAUTH_BIN must name the mcp-oauth binary (cargo build -p mcp-oauth)');
  return path;
}

/** The directory for a suite's logs and screenshots: $ARTIFACTS_DIR/<suite>, else a temporary one. */
export async function artifactsDir(suite) {
  const dir = process.env.ARTIFACTS_DIR
    ? join(process.env.ARTIFACTS_DIR, suite)
    : await mkdtemp(join(tmpdir(), `mcp-oauth-${suite}-artifacts-`));
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

/** The environment without settings of ours a developer's shell might carry, plus `extra`. */
function cleanEnv(extra = {}) {
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (/^(AUTH_SERVER_|MCP_SERVER_|MCP_ISSUER|MCP_OAUTH_|DATABASE_URL$)/.test(key)) delete env[key];
  }
  return { ...env, ...extra };
}

/** Runs `mcp-oauth args` to completion with `stdin` as its input; returns its standard output. */
export async function runCommand(args, { env = {}, stdin } = {}) {
  const running = execFileAsync(binary(), args, { env: cleanEnv(env) });
  running.child.stdin.end(stdin ?? '');
  const { stdout } = await running;
  return stdout;
}

/**
 * Starts `mcp-oauth args` in a temporary working directory (so no `.env` file is read) with
 * `env` added, writing its output to `log`, and waits until every URL in `ready` answers
 * 200; fails early, naming the log, if the process exits. Returns a handle for `stopProcess`.
 */
export async function startProcess(args, { log, env = {}, ready }) {
  const cwd = await mkdtemp(join(tmpdir(), 'mcp-oauth-cwd-'));
  const logFile = await open(log, 'w');
  const child = spawn(binary(), args, { cwd, env: cleanEnv(env), stdio: ['ignore', logFile.fd, logFile.fd] });
  const handle = { child, logFile, cwd, exited: once(child, 'exit') };
  let exit;
  handle.exited.then(([code, signal]) => (exit = code ?? signal));
  const deadline = Date.now() + START_TIMEOUT_MS;
  const waiting = [...ready];
  while (waiting.length > 0) {
    if (exit !== undefined) {
      await stopProcess(handle);
      throw new Error(`mcp-oauth ${args.join(' ')} exited (${exit}) before answering; log: ${log}`);
    }
    if (await answers(waiting[0])) {
      waiting.shift();
      continue;
    }
    if (Date.now() > deadline) {
      await stopProcess(handle);
      throw new Error(`mcp-oauth ${args.join(' ')} did not answer ${waiting[0]} within ${START_TIMEOUT_MS} ms; log: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return handle;
}

/** Whether `url` answers 200 now. */
async function answers(url) {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Ends a started process (SIGTERM, then SIGKILL after 10 s) and removes what it left. */
export async function stopProcess({ child, logFile, cwd, exited }) {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await logFile.close().catch(() => {});
  await rm(cwd, { recursive: true, force: true });
}
