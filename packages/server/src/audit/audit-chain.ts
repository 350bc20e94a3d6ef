/**
 * The hash chain rule, in one place for the writer and the verifier:
 * `hash = SHA-256-hex(prev_hash + "\n" + body)`, the first event's prev_hash is 64 zeros, `seq` counts from 1.
 */
import { sha256Hex } from '../crypto/index.js';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * @example
 * chainHash(GENESIS_HASH, '{"id":"…","time":1,"trace_id":"…","type":"admin.change"}')
 */
export function chainHash(prevHash: string, body: string): string {
  return sha256Hex(`${prevHash}\n${body}`);
}
