// node-oidc-provider for bench/auth-server-run --oidc-provider: the certified `oidc-provider`
// package (the version of tests/oidc-provider, its in-memory storage) on 127.0.0.1:PORT with one
// public client allowed refresh tokens (scope `openid offline_access`, rotated on every use),
// and TOKENS refresh tokens minted for it through the provider's own models before it listens
// (their issuance is not measured; each, on a grant of its own, starts one refresh chain of
// the driver).
//
//   PORT=… TOKENS=16 TOKENS_FILE=/path node provider.mjs   (run beside its node_modules)
//
// Writes the refresh tokens to TOKENS_FILE, one a line, then prints "ready <issuer>".
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const CLIENT_ID = 'bench';
const ACCOUNT = 'bench-user';
const SCOPE = 'openid offline_access';

const port = Number(process.env.PORT);
const count = Number(process.env.TOKENS);
const tokensFile = process.env.TOKENS_FILE;
if (!port || !count || !tokensFile) throw new Error('PORT, TOKENS and TOKENS_FILE are required');

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CLIENT_ID,
      redirect_uris: ['http://127.0.0.1:4000/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
  ],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomUUID()] },
  features: { devInteractions: { enabled: false } },
  issueRefreshToken: () => true,
  rotateRefreshToken: () => true,
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});

const client = await provider.Client.find(CLIENT_ID);
const tokens = [];
for (let i = 0; i < count; i += 1) {
  // A grant per chain, as each chain of the driver comes from a code of its own.
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: CLIENT_ID });
  grant.addOIDCScope(SCOPE);
  const grantId = await grant.save();
  const token = new provider.RefreshToken({
    client,
    accountId: ACCOUNT,
    grantId,
    gty: 'authorization_code',
    scope: SCOPE,
    authTime: Math.floor(Date.now() / 1000),
  });
  tokens.push(await token.save());
}
writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
