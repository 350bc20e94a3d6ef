// Bundles the console (esbuild) into @writ/server's dist/console-ui/, where Writ serves it from: app.js, app.css and
// index.html, whose script and stylesheet carry Subresource Integrity hashes. Type-checking is `tsc -p .` (run first).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here('../../packages/server/dist/console-ui/');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [here('src/main.tsx')],
  bundle: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  legalComments: 'eof',
  outfile: `${out}app.js`,
  logLevel: 'warning',
});
await build({ entryPoints: [here('src/app.css')], bundle: true, minify: true, outfile: `${out}app.css`, logLevel: 'warning' });

const integrity = (file) =>
  `sha384-${createHash('sha384')
    .update(readFileSync(`${out}${file}`))
    .digest('base64')}`;
writeFileSync(
  `${out}index.html`,
  readFileSync(here('index.html'), 'utf8').replace('%JS_INTEGRITY%', integrity('app.js')).replace('%CSS_INTEGRITY%', integrity('app.css')),
);
console.log(`console built into ${out}`);
