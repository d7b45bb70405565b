// A Client ID Metadata Document served over https on localhost. The TypeScript SDK accepts
// only https URLs as client ids, so this makes a throwaway certificate authority and a
// certificate for `localhost` with the openssl command; the authorization server is started
// with SSL_CERT_FILE naming that authority, so it verifies the document's server like any other.

import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Makes the certificate authority and the server certificate. Returns the authority's PEM
 * file (for SSL_CERT_FILE), the server's key and certificate, and `remove()`.
 */
export async function localhostCertificates() {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-oauth-interop-tls-'));
  const file = (name) => join(dir, name);
  const openssl = (...args) =>
    run('openssl', args).catch((error) => {
      throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${error.stderr || error.message}`);
    });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl('req', '-x509', ...ec, '-days', '2', '-keyout', file('ca.key'), '-out', file('ca.pem'),
    '-subj', '/CN=mcp-oauth interop test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  await openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  await writeFile(file('server.ext'),
    'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-days', '2', '-extfile', file('server.ext'), '-out', file('server.pem'));
  return {
    caFile: file('ca.pem'),
    key: await readFile(file('server.key')),
    cert: await readFile(file('server.pem')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Serves `document(url)` as JSON at https://localhost:PORT/client-metadata.json, where `url`
 * is that address. Returns the URL, the number of times it was fetched, and `close()`.
 */
export async function serveMetadataDocument({ key, cert }, document) {
  let url;
  let fetches = 0;
  const server = createServer({ key, cert }, (request, response) => {
    if (request.method !== 'GET' || request.url !== '/client-metadata.json') {
      response.writeHead(404).end();
      return;
    }
    fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document(url)));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://localhost:${server.address().port}/client-metadata.json`;
  return {
    url,
    fetches: () => fetches,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
