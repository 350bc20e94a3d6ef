import { isUtf8 } from 'node:buffer';

/** Strict base64url (RFC 4648 §5, no padding, RFC 7515 §2): anything else is refused, not repaired. */
const B64URL = /^[A-Za-z0-9_-]*$/;

export function decodeBase64url(input: string): Buffer | undefined {
  if (!B64URL.test(input) || input.length % 4 === 1) return undefined;
  const out = Buffer.from(input, 'base64url');
  // Refuse non-canonical encodings (stray low bits in the last character) so one signature has one spelling.
  if (out.toString('base64url') !== input) return undefined;
  return out;
}

export function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  // RFC 7515 §5.2 / RFC 8259 §8.1: the JSON is UTF-8; invalid bytes are refused, not replaced with U+FFFD (which
  // would let different signed bytes read as the same claims). jose refuses them too.
  if (!isUtf8(bytes)) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
