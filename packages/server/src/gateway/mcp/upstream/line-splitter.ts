/**
 * Splits a byte stream into newline-terminated lines with a hard cap on line length, for the stdio framing of MCP
 * (one JSON-RPC message per line) and for a child's stderr. `readline` has no length cap, so one endless line from
 * a misbehaving child would grow without bound; here a line over the cap is cut (`truncated: true`) and the rest of
 * it, up to the next newline, is discarded without being kept.
 */

export interface SplitLine {
  /** The line's text without its `\n` (and without a trailing `\r`), decoded as UTF-8; at most `maxBytes` bytes of it. */
  text: string;
  /** The line was longer than `maxBytes`; `text` is its beginning only. */
  truncated: boolean;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  readonly #maxBytes: number;
  readonly #onLine: (line: SplitLine) => void;
  #chunks: Buffer[] = [];
  #length = 0;
  #discarding = false;

  constructor(maxBytes: number, onLine: (line: SplitLine) => void) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new TypeError('maxBytes must be a positive integer');
    this.#maxBytes = maxBytes;
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl === -1 ? chunk.length : nl;
      this.#append(chunk.subarray(start, end));
      if (nl === -1) return;
      this.#emit();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.#length > 0 || this.#discarding) this.#emit();
  }

  #append(part: Buffer): void {
    if (this.#discarding || part.length === 0) return;
    const room = this.#maxBytes - this.#length;
    if (part.length > room) {
      if (room > 0) this.#chunks.push(Buffer.from(part.subarray(0, room)));
      this.#length = this.#maxBytes;
      this.#discarding = true;
      return;
    }
    // Copy: the caller's chunk may be a view into a pooled buffer that is reused.
    this.#chunks.push(Buffer.from(part));
    this.#length += part.length;
  }

  #emit(): void {
    let line = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#length);
    const truncated = this.#discarding;
    this.#chunks = [];
    this.#length = 0;
    this.#discarding = false;
    if (!truncated && line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    this.#onLine({ text: line.toString('utf8'), truncated });
  }
}
