/**
 * A secret as a type: it cannot print. `toString`, `toJSON`, `util.inspect` and template strings all show
 * `[redacted]`; the plaintext comes out only through `reveal()`, so every place that uses it is greppable.
 * CONVENTIONS §9 (agentgateway's `SecretString`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Holds one secret string (an upstream API key, a client secret, a serialised private key).
 *
 * @example
 * const key = new SecretValue(process.env.UPSTREAM_KEY ?? '');
 * console.log(`${key}`); // [redacted]
 * headers.authorization = `Bearer ${key.reveal()}`; // the one place that needs it
 */
export class SecretValue {
  // An ES private field: invisible to JSON.stringify, Object.keys, spread, structuredClone and util.inspect.
  readonly #value: string;

  constructor(value: string) {
    if (typeof value !== 'string') throw new TypeError('SecretValue holds a string');
    this.#value = value;
    Object.freeze(this);
  }

  /** The plaintext. Call it only where the secret leaves Writ on purpose (credential injection). */
  reveal(): string {
    return this.#value;
  }

  /**
   * Constant-time comparison. Both sides are hashed first so that neither the content nor the length of either
   * value influences the timing (`timingSafeEqual` itself requires equal lengths and would leak them).
   */
  equals(other: SecretValue): boolean {
    if (!(other instanceof SecretValue)) throw new TypeError('SecretValue.equals expects a SecretValue');
    const a = createHash('sha256').update(this.#value, 'utf8').digest();
    const b = createHash('sha256').update(other.#value, 'utf8').digest();
    return timingSafeEqual(a, b);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  /** Template strings and `+` go through this, not through `toString`, when the hint is 'default'. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `SecretValue(${REDACTED})`;
  }
}
