/**
 * Scrubbing: an injected credential must never come back to the agent in an upstream's answer (principle 2, in the
 * direction nobody thinks of: an upstream that echoes its `Authorization` header, an error page that prints the
 * request, a debug endpoint). Every value the gateway injected into a request is searched for in that request's
 * response — headers and body, streamed — in each form an upstream is likely to write it in, and replaced.
 *
 * Forms searched for, per injected value: as it is; JSON-escaped (with and without `\/`, and with non-ASCII as `\uXXXX`);
 * percent-encoded; and base64 (standard and URL alphabets) at each of the three byte offsets it can start at inside a
 * longer base64 text, so `Basic base64(user:secret)` and a base64 blob that embeds the value are both found.
 *
 * Replacement keeps the length (`[writ:scrubbed]` padded with `*`, or `*` alone for a short form), so a body's
 * `Content-Length` stays right and nothing is buffered beyond the longest form less one byte. Forms shorter than
 * `MIN_FORM_BYTES` are not searched: replacing every occurrence of a few common characters would corrupt answers while
 * protecting nothing a guess could not find (docs/vault.md).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { SecretValue } from '../crypto/index.js';

export const MIN_FORM_BYTES = 6;
const MARK = '[writ:scrubbed]';

interface Form {
  bytes: Buffer;
  mask: Buffer;
  text: string;
  textMask: string;
  secretId: string;
}

/** One injected value and the vault secret it came from (named in the audit record, never the value). */
export interface InjectedValue {
  secretId: string;
  value: SecretValue;
}

export class SecretScrubber {
  readonly #forms: Form[];
  /** Bytes a stream must hold back so a form split across two chunks is still found. */
  readonly holdBack: number;

  private constructor(forms: Form[]) {
    this.#forms = forms;
    this.holdBack = forms.reduce((m, f) => Math.max(m, f.bytes.length - 1), 0);
  }

  /**
   * @example
   * const scrubber = SecretScrubber.of([{ secretId: 'github', value }]);
   * scrubber.scrubText(`token=${value.reveal()}`) // { text: 'token=[writ:scr…', secrets: ['github'] }
   */
  static of(values: readonly InjectedValue[]): SecretScrubber {
    const seen = new Set<string>();
    const forms: Form[] = [];
    for (const { secretId, value } of values) {
      for (const text of formsOf(value.reveal())) {
        const bytes = Buffer.from(text, 'utf8');
        if (bytes.length < MIN_FORM_BYTES || seen.has(text)) continue;
        seen.add(text);
        forms.push({ bytes, mask: maskOf(bytes.length), text, textMask: maskOf(text.length).toString('latin1'), secretId });
      }
    }
    // Longest first: a form that contains a shorter one is masked whole.
    forms.sort((a, b) => b.bytes.length - a.bytes.length);
    return new SecretScrubber(forms);
  }

  get empty(): boolean {
    return this.#forms.length === 0;
  }

  /** Masks every form found in `buf` in place; returns the ids of the secrets found. */
  scrubBytes(buf: Buffer, found: Set<string> = new Set()): Set<string> {
    for (const f of this.#forms) {
      let at = buf.indexOf(f.bytes);
      while (at !== -1) {
        f.mask.copy(buf, at);
        found.add(f.secretId);
        at = buf.indexOf(f.bytes, at + f.bytes.length);
      }
    }
    return found;
  }

  /** For header values and strings inside parsed messages. */
  scrubText(text: string, found: Set<string> = new Set()): string {
    let out = text;
    for (const f of this.#forms) {
      if (!out.includes(f.text)) continue;
      found.add(f.secretId);
      out = out.split(f.text).join(f.textMask);
    }
    return out;
  }

  /** Every string in a JSON value (object keys too), scrubbed; the value is returned as it was when nothing matched. */
  scrubJson<T>(value: T, found: Set<string> = new Set()): T {
    return scrubValue(this, value, found) as T;
  }

  /** A transform for a response body: holds back `holdBack` bytes between chunks; `onFound` once per secret. */
  stream(onFound: (secretId: string) => void): Transform {
    return new ScrubStream(this, onFound);
  }
}

function scrubValue(s: SecretScrubber, value: unknown, found: Set<string>): unknown {
  if (typeof value === 'string') return s.scrubText(value, found);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = scrubValue(s, value[i], found);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (value !== null && typeof value === 'object') {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const key = s.scrubText(k, found);
      const nv = scrubValue(s, v, found);
      if (key !== k || nv !== v) {
        out ??= { ...(value as Record<string, unknown>) };
        if (key !== k) delete out[k];
        out[key] = nv;
      }
    }
    return out ?? value;
  }
  return value;
}

/**
 * A body scrubbed chunk by chunk: each chunk is searched together with the tail held back from the one before, and
 * that tail (`holdBack` bytes) is kept until the next chunk or the end. Reports each secret once.
 */
export class ChunkScrubber {
  readonly #s: SecretScrubber;
  readonly #onFound: (secretId: string) => void;
  readonly #reported = new Set<string>();
  #held: Buffer = Buffer.alloc(0);

  constructor(s: SecretScrubber, onFound: (secretId: string) => void) {
    this.#s = s;
    this.#onFound = onFound;
  }

  /** What may be passed on now (undefined: nothing yet). */
  push(chunk: Buffer): Buffer | undefined {
    // A copy: the chunk may be a view of a buffer undici reuses, and masking writes into it.
    const buf = this.#held.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#held, chunk]);
    const found = this.#s.scrubBytes(buf);
    if (found.size > 0) this.#report(found);
    const keep = Math.min(this.#s.holdBack, buf.length);
    this.#held = buf.subarray(buf.length - keep);
    return keep === buf.length ? undefined : buf.subarray(0, buf.length - keep);
  }

  /** The held tail: it was scrubbed with the chunk it arrived in, and nothing follows it to complete a form. */
  end(): Buffer | undefined {
    const tail = this.#held;
    this.#held = Buffer.alloc(0);
    return tail.length === 0 ? undefined : tail;
  }

  #report(found: Set<string>): void {
    for (const id of found) {
      if (this.#reported.has(id)) continue;
      this.#reported.add(id);
      this.#onFound(id);
    }
  }
}

class ScrubStream extends Transform {
  readonly #chunks: ChunkScrubber;

  constructor(s: SecretScrubber, onFound: (secretId: string) => void) {
    super();
    this.#chunks = new ChunkScrubber(s, onFound);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(null, this.#chunks.push(chunk));
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.#chunks.end());
  }
}

function maskOf(length: number): Buffer {
  return Buffer.from(length >= MARK.length ? MARK + '*'.repeat(length - MARK.length) : '*'.repeat(length), 'latin1');
}

/** The texts an upstream may write `value` as. */
export function formsOf(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  forms.add(json.replaceAll('/', '\\/'));
  forms.add(json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  forms.add(encodeURIComponent(value));
  for (const b64 of base64Cores(Buffer.from(value, 'utf8'))) {
    forms.add(b64);
    forms.add(b64.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return [...forms];
}

/**
 * The part of base64(prefix ‖ value ‖ suffix) that depends on `value` alone, for a prefix of 0, 1 and 2 bytes: the
 * characters that mix in a neighbouring byte's bits are dropped at each end, so the core is found whatever surrounds it.
 */
function base64Cores(value: Buffer): string[] {
  const cores: string[] = [];
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), value])
      .toString('base64')
      .replace(/=+$/, '');
    const skip = k === 0 ? 0 : k + 1;
    const drop = (k + value.length) % 3 === 0 ? 0 : 1;
    const core = encoded.slice(skip, encoded.length - drop);
    if (core.length > 0) cores.push(core);
  }
  return cores;
}
