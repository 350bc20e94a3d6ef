/** SHA-256 as lowercase hex: the audit hash chain and token digests use it. */
import { createHash } from 'node:crypto';

/**
 * @example
 * sha256Hex('abc') // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
