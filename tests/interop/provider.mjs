// An OAuthClientProvider (the TypeScript SDK's interface) that keeps everything in memory and,
// instead of opening a browser, signs the person in over HTTP (see sign-in.mjs). It checks
// what the SDK leaves to the application: the callback's `state` and `iss` (RFC 9207).

import { randomBytes } from 'node:crypto';
import { signInAndConsent } from './sign-in.mjs';

/** The SDK's OAuth provider for a headless test client. */
export class HeadlessProvider {
  #clientInformation;
  #tokens;
  #codeVerifier;
  #state;

  /**
   * `redirectUrl`: the client's callback (never listened on: the sign-in stops at the redirect).
   * `person`: `{ email, password, signUp }` for the sign-in pages. `issuer`: the expected `iss`.
   * `clientMetadataUrl`: a Client ID Metadata Document URL, offered to the SDK.
   */
  constructor({ redirectUrl, person, issuer, clientMetadataUrl }) {
    this.redirectUrl = redirectUrl;
    this.person = person;
    this.issuer = issuer;
    if (clientMetadataUrl) this.clientMetadataUrl = clientMetadataUrl;
    /** Each sign-in: the authorization URL, the requests made and the code received. */
    this.signIns = [];
  }

  /** The metadata the SDK registers with Dynamic Client Registration. */
  get clientMetadata() {
    return {
      client_name: 'MCP TypeScript SDK interop test',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    this.#state = randomBytes(16).toString('base64url');
    return this.#state;
  }

  clientInformation() {
    return this.#clientInformation;
  }

  saveClientInformation(information) {
    this.#clientInformation = information;
  }

  tokens() {
    return this.#tokens;
  }

  saveTokens(tokens) {
    this.#tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this.#codeVerifier = verifier;
  }

  codeVerifier() {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }

  /** Signs in and consents; keeps the code for `finishAuth` after checking `state` and `iss`. */
  async redirectToAuthorization(authorizationUrl) {
    const { callback, steps } = await signInAndConsent(authorizationUrl.href, {
      ...this.person,
      redirectUrl: this.redirectUrl,
    });
    const parameters = callback.searchParams;
    if (parameters.has('error')) {
      throw new Error(`authorization refused: ${parameters.get('error')} ${parameters.get('error_description') ?? ''}`);
    }
    if (parameters.get('state') !== this.#state) throw new Error(`callback state ${parameters.get('state')} is not ours`);
    if (parameters.get('iss') !== this.issuer) throw new Error(`callback iss ${parameters.get('iss')} is not ${this.issuer}`);
    const code = parameters.get('code');
    if (!code) throw new Error(`callback without a code: ${callback}`);
    this.signIns.push({ authorizationUrl, steps, code });
  }
}
