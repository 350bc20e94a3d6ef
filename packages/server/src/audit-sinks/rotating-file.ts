/**
 * An append-only file that rotates by size: past `maxBytes`, `audit.log` becomes `audit.log.1` (the previous `.1`
 * becomes `.2`, and so on), and the oldest past `maxFiles` is removed. Lines are whole: a batch is written with one
 * append, after the rotation check.
 */
import { appendFile, rename, rm, stat } from 'node:fs/promises';

export class RotatingFile {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #maxFiles: number;

  constructor(path: string, o: { maxBytes: number; maxFiles: number }) {
    this.#path = path;
    this.#maxBytes = o.maxBytes;
    this.#maxFiles = o.maxFiles;
  }

  async append(text: string): Promise<void> {
    const size = await stat(this.#path).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 0 && size + Buffer.byteLength(text) > this.#maxBytes) await this.#rotate();
    await appendFile(this.#path, text, { mode: 0o600 });
  }

  async #rotate(): Promise<void> {
    await rm(`${this.#path}.${this.#maxFiles}`, { force: true });
    for (let i = this.#maxFiles - 1; i >= 1; i--) await rename(`${this.#path}.${i}`, `${this.#path}.${i + 1}`).catch(() => undefined);
    await rename(this.#path, `${this.#path}.1`);
  }
}
