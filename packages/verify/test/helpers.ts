/** Test helpers: keys and JWS built with jose (the reference implementation the verifier is held to). */
import { createHash, randomBytes } from 'node:crypto';
import { WritError } from '@writ/protocol';
import { InMemoryReplayCache, type DpopCheckOptions } from '../src/internal.js';
import { exportJWK, generateKeyPair, SignJWT, calculateJwkThumbprint, type JWK, type CryptoKey } from 'jose';

export interface TestKey {
  alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

export async function testKey(alg: TestKey['alg']): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}),
  });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

export function b64(o: unknown): string {
  return Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
}

export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export async function proof(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ jti: randomBytes(12).toString('base64url'), iat: NOW, ...claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header })
    .sign(key.privateKey);
}

/** A fixed clock for every test: 2026-11-22T12:00:00Z. */
export const NOW = 1_795_348_800;

export const PROOF_URL = 'https://writ.example/r/api/v1/projects';

/** Options for a GET proof to PROOF_URL at NOW with a fresh replay cache, every algorithm allowed. */
export function dpopOptions(over: Partial<DpopCheckOptions> = {}): DpopCheckOptions {
  return {
    method: 'GET',
    url: PROOF_URL,
    replay: new InMemoryReplayCache({ now: () => NOW }),
    algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    maxAgeSeconds: 60,
    clockSkewSeconds: 5,
    now: () => NOW,
    ...over,
  };
}

/** The WritError code a check refuses with, or 'accepted'. Anything else is a bug and is rethrown. */
export async function refusalCode(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'accepted';
  } catch (err) {
    if (err instanceof WritError) return err.code;
    throw err;
  }
}
