/** Pre-generated DPoP proofs (raw node:crypto ES256), one per request, so signing does not load the measured run. */
import { createHash, createPrivateKey, randomBytes, sign, type JsonWebKey } from 'node:crypto';

export function makeProofFactory(privateJwk: JsonWebKey, htu: string, accessToken: string | undefined): (count: number) => string[] {
  const key = createPrivateKey({ key: privateJwk, format: 'jwk' });
  const { kty, crv, x, y } = privateJwk;
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })).toString('base64url');
  const ath = accessToken === undefined ? undefined : createHash('sha256').update(accessToken).digest('base64url');
  return (count) => {
    const iat = Math.floor(Date.now() / 1000);
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const payload = Buffer.from(
        JSON.stringify({ jti: randomBytes(12).toString('base64url'), htm: 'GET', htu, iat, ...(ath !== undefined ? { ath } : {}) }),
      ).toString('base64url');
      const input = `${header}.${payload}`;
      out[i] = `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    }
    return out;
  };
}

/**
 * Headers for about `count` requests, each with its own proof, generated before the clock starts (signing does not
 * load the measured run); should the estimate run out, more are made in chunks rather than failing the run.
 * Without a factory, no headers.
 */
export function proofHeaders(
  factory: ((n: number) => string[]) | undefined,
  token: string | undefined,
): (count: number) => () => Record<string, string> {
  return (count) => {
    if (factory === undefined) return () => ({});
    let proofs = factory(count);
    let i = 0;
    return () => {
      if (i === proofs.length) {
        proofs = factory(Math.max(1000, Math.ceil(count / 10)));
        i = 0;
      }
      const proof = proofs[i++] as string;
      return token === undefined ? { dpop: proof } : { authorization: `DPoP ${token}`, dpop: proof };
    };
  };
}
