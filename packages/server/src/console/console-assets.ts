/**
 * The console's built files (apps/console, bundled into this package's `dist/console-ui/` by `npm run build`): read
 * once at start, served from memory by exact name — no path from a request ever reaches the file system.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};
const NAME = /^[a-z0-9][a-z0-9._-]{0,100}$/;

/** Where `npm run build` puts the console, beside this package's compiled code. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../console-ui/', import.meta.url));

export class ConsoleAssets {
  readonly #files = new Map<string, ConsoleAsset>();

  constructor(dir: string = DEFAULT_ASSETS_DIR) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const type = TYPES[name.slice(name.lastIndexOf('.'))];
      if (!NAME.test(name) || type === undefined || !statSync(join(dir, name)).isFile()) continue;
      const body = readFileSync(join(dir, name));
      this.#files.set(name, { body, contentType: type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
    }
  }

  /** Whether the console was built (its page exists). */
  get built(): boolean {
    return this.#files.has('index.html');
  }

  get(name: string): ConsoleAsset | undefined {
    return this.#files.get(name);
  }
}
