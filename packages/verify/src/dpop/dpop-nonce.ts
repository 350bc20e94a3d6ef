/**
 * Stateless DPoP server nonces (RFC 9449 §8 and §9): a nonce is a time window number and an HMAC over it, so every
 * node that shares the key accepts every other node's nonces, and nothing is stored. A nonce is accepted during its
 * window and the next one; it is unpredictable without the key (RFC 9449 §8: MUST be unpredictable).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface DpopNonces {
  /** The nonce to hand out now (`DPoP-Nonce` header). */
  current(): string;
  /** Whether a proof's `nonce` is one this server (or a peer with the same key) issued recently. */
  check(nonce: string | undefined): boolean;
}

export function createDpopNonces(opts: { key: Uint8Array; windowSeconds?: number; now?: () => number }): DpopNonces {
  const windowSeconds = opts.windowSeconds ?? 60;
  const nowSec = opts.now ?? (() => Date.now() / 1000);
  const mac = (w: number): Buffer => createHmac('sha256', opts.key).update(`writ-dpop-nonce:${w}`).digest().subarray(0, 16);
  const encode = (w: number): string => `${w.toString(36)}.${mac(w).toString('base64url')}`;
  let cached: { w: number; nonce: string } | undefined;
  return {
    current() {
      const w = Math.floor(nowSec() / windowSeconds);
      if (cached?.w !== w) cached = { w, nonce: encode(w) };
      return cached.nonce;
    },
    check(nonce) {
      if (typeof nonce !== 'string' || nonce.length > 64) return false;
      // Compared with the exact spellings this server issues, so a nonce has one spelling (parseInt and base64url
      // decoding would both accept variants).
      const now = Math.floor(nowSec() / windowSeconds);
      const given = Buffer.from(nonce);
      for (const w of [now, now - 1]) {
        const expected = Buffer.from(encode(w));
        if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
      }
      return false;
    },
  };
}
