// The real mcp-oauth authorization server and MCP server, started on free loopback ports with a
// throwaway data directory, for one test file. Their output goes to log files in the artifacts
// directory; `stop()` ends both (the test's `after` hook calls it, also after a failure).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactsDir, freePort, runCommand, startProcess, stopProcess } from './processes.mjs';

/**
 * Starts the authorization server and the MCP server. `name` prefixes the log files;
 * `authServerEnv` adds environment variables for the authorization server (a CA file for
 * TLS, say). Returns their URLs, helpers for users, and `stop()`.
 */
export async function startStack({ name, authServerEnv = {} }) {
  const logs = await artifactsDir('interop');
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
      await startProcess(['auth-server'], {
        log: join(logs, `${name}-auth-server.log`),
        env: {
          AUTH_SERVER_BIND: `127.0.0.1:${authPort}`,
          AUTH_SERVER_ISSUER: issuer,
          AUTH_SERVER_RESOURCES: mcpUrl,
          MCP_OAUTH_DATA_DIR: dataDir,
          ...authServerEnv,
        },
        ready: [`${issuer}/.well-known/oauth-authorization-server`],
      }),
    );
    processes.push(
      await startProcess(['mcp-server'], {
        log: join(logs, `${name}-mcp-server.log`),
        env: {
          MCP_SERVER_BIND: `127.0.0.1:${mcpPort}`,
          MCP_SERVER_URL: mcpUrl,
          MCP_ISSUERS: issuer,
        },
        ready: [`http://localhost:${mcpPort}/.well-known/oauth-protected-resource/mcp`],
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    issuer,
    mcpUrl,
    stop,
    /** Adds an account with `mcp-oauth admin users add`. */
    async addUser(email, password) {
      await runCommand(['admin', '--data-dir', dataDir, 'users', 'add', '--email', email, '--password-stdin'], {
        stdin: `${password}\n`,
      });
    },
    /** The user id (the tokens' `sub`) of the account with this e-mail. */
    userId: (email) => userId(dataDir, email),
  };
}

/** The id (the tokens' `sub`) of the account with this e-mail, from `mcp-oauth admin users list`. */
export async function userId(dataDir, email) {
  const listing = await runCommand(['admin', '--data-dir', dataDir, 'users', 'list']);
  const line = listing.split('\n').find((row) => row.split('\t')[1] === email);
  if (!line) throw new Error(`no user ${email} in:\n${listing}`);
  return line.split('\t')[0];
}
