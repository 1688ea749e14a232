// Verifies room tokens (jose) and mints the server's own. Keys:
//   MCU_AUTH_SECRET           HS256 secret shared with the backend (≥ 16 characters)
//   MCU_AUTH_PUBLIC_KEY_FILE  ES256 public key(s): a PEM (SPKI), a JWK or a JWKS file
//   MCU_AUTH_JWKS_URL         ES256 public keys fetched (and cached) from a JWKS URL
// Any one of them turns tokens on. With public keys only, a backend mints tokens with its
// private key and never holds anything that lets it impersonate the server; the tokens the
// server mints itself (POST /tokens, host grants, recorder tokens) are then HS256 under a
// random key of this process, valid on this process only.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, importSPKI, jwtVerify, type CryptoKey, type JWSHeaderParameters, type JSONWebKeySet } from 'jose';
import { checkClaims, signToken, splitToken, TokenError, type TokenClaims, type TokenPolicy } from '../../pipeline/auth/tokens.ts';

export interface TokenServiceOptions {
  secret: string | null;
  publicKeyFile: string | null;
  jwksUrl: string | null;
  policy: TokenPolicy;
}

/** A token that could not be checked for a reason on the server's side (JWKS unreachable). */
export class TokenCheckUnavailable extends Error {}

type KeyLookup = (header: JWSHeaderParameters) => Promise<CryptoKey | Uint8Array>;

export class TokenService {
  private readonly hmacKey: Uint8Array;
  private readonly algorithms: string[];

  private constructor(
    /** The HS256 secret the server mints with (MCU_AUTH_SECRET, or this process's own). */
    readonly mintSecret: string,
    private readonly es256: KeyLookup | null,
    readonly policy: TokenPolicy,
  ) {
    this.hmacKey = new TextEncoder().encode(mintSecret);
    // HS256: the shared secret's tokens, or only the server's own when there is none.
    this.algorithms = ['HS256', ...(es256 ? ['ES256'] : [])];
  }

  /** null when no key is configured (the server runs open). */
  static async create(o: TokenServiceOptions): Promise<TokenService | null> {
    if (!o.secret && !o.publicKeyFile && !o.jwksUrl) return null;
    let es256: KeyLookup | null = null;
    if (o.publicKeyFile) es256 = await keysFromFile(o.publicKeyFile);
    if (o.jwksUrl) {
      const remote = createRemoteJWKSet(new URL(o.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      const local = es256;
      es256 = async (header) => {
        if (local) {
          try {
            return await local(header);
          } catch {
            /* not in the file: ask the JWKS */
          }
        }
        return remote(header) as Promise<CryptoKey>;
      };
    }
    const secret = o.secret ?? randomBytes(32).toString('base64url');
    return new TokenService(secret, es256, o.policy);
  }

  get maxTtlSec(): number {
    return this.policy.maxTtlSec;
  }

  /** Mints a token with the server's HS256 key (a jti is always added). */
  mint(claims: Omit<TokenClaims, 'jti'> & { jti?: string }): string {
    return signToken(claims, this.mintSecret);
  }

  /** The claims of a valid token; TokenError (→ 401) saying why not, or TokenCheckUnavailable. */
  async verify(token: string, nowSec = Math.floor(Date.now() / 1000)): Promise<TokenClaims> {
    const { header } = splitToken(token);
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.algorithms.includes(alg)) {
      throw new TokenError(`unsupported token algorithm ${JSON.stringify(alg ?? null)} (accepted: ${this.algorithms.join(', ')})`);
    }
    let payload: unknown;
    try {
      const result = await jwtVerify(
        token,
        async (h: JWSHeaderParameters) => (h.alg === 'HS256' ? this.hmacKey : this.es256!(h)),
        { algorithms: [alg], clockTolerance: this.policy.leewaySec, currentDate: new Date(nowSec * 1000), requiredClaims: ['exp'] },
      );
      payload = result.payload;
    } catch (err) {
      throw joseProblem(err);
    }
    return checkClaims(payload, nowSec, this.policy);
  }
}

function joseProblem(err: unknown): Error {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JWTExpired) return new TokenError('the token has expired');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenError('bad token signature');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenError('no signing key matches the token (kid)');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new TokenError('several signing keys match the token: give it a kid');
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenError('unsupported token algorithm');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'nbf') return new TokenError('the token is not valid yet (nbf)');
    if (claim === 'iat') return new TokenError('the token\'s iat is invalid');
    if (claim === 'exp') return new TokenError('the token has no valid expiry (exp)');
    return new TokenError(`the token's ${claim} claim is invalid`);
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return new TokenCheckUnavailable('the signing keys (MCU_AUTH_JWKS_URL) could not be fetched');
  if (err instanceof errors.JOSEError) return new TokenError('malformed token');
  // fetch failures of the remote JWKS surface as plain errors
  return new TokenCheckUnavailable('the signing keys (MCU_AUTH_JWKS_URL) could not be fetched');
}

/** ES256 keys from a file: a PEM public key (SPKI), a JWK or a JWKS. */
async function keysFromFile(file: string): Promise<KeyLookup> {
  const text = fs.readFileSync(file, 'utf8').trim();
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new Error('MCU_AUTH_PUBLIC_KEY_FILE holds a private key: give the server the public key only');
  if (text.startsWith('-----BEGIN PUBLIC KEY-----')) {
    const key = await importSPKI(text, 'ES256');
    return async () => key;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`MCU_AUTH_PUBLIC_KEY_FILE (${file}) is neither a PEM public key nor JSON (a JWK or a JWKS)`);
  }
  const jwks = (Array.isArray((json as JSONWebKeySet).keys) ? json : { keys: [json] }) as JSONWebKeySet;
  for (const k of jwks.keys) {
    if (k.kty !== 'EC' || k.crv !== 'P-256') throw new Error(`MCU_AUTH_PUBLIC_KEY_FILE: keys must be ES256 (kty EC, crv P-256), got ${k.kty}/${k.crv ?? '-'}`);
    if ('d' in k) throw new Error('MCU_AUTH_PUBLIC_KEY_FILE holds a private key: give the server the public key only');
  }
  const set = createLocalJWKSet(jwks);
  return (header) => set(header) as Promise<CryptoKey>;
}
