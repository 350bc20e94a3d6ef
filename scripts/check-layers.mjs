#!/usr/bin/env node
// The layering ARCHITECTURE.md states, checked (part of `npm run lint`): a rule only written in prose drifts.
//
// 1. Packages: each package's sources import only the packages its row in ARCHITECTURE.md's package table names
//    ("depends on"), every bare import is declared in its package.json (dependencies, or optional peers), and every
//    declared runtime dependency is imported by some source file (nothing is installed that nothing uses).
// 2. Server folders: a file in `packages/server/src/<folder>/` imports another folder only if that folder is in its
//    row's "may import" column of the folder table, and only through the other folder's `index.ts`.
//
// Exit code 1 with one line per violation; 0 and a summary otherwise.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const architecture = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
const problems = [];

/** Rows of the markdown table that follows `marker` in ARCHITECTURE.md, as arrays of trimmed cells. */
function table(marker) {
  const at = architecture.indexOf(marker);
  if (at === -1) throw new Error(`ARCHITECTURE.md has no "${marker}"`);
  const rows = [];
  let started = false;
  for (const line of architecture.slice(at).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (started) break;
      continue;
    }
    started = true;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (/^-+$/.test(cells[0] ?? '')) continue;
    rows.push(cells);
  }
  return rows.slice(1);
}

/** `a, b` or `—` → names; backticks and trailing slashes dropped. */
function names(cell) {
  if (cell === '—' || cell === '') return [];
  return cell.split(',').map((n) => n.trim().replace(/`/g, '').replace(/\/$/, ''));
}

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports or re-exports (static and dynamic with a literal). */
function specifiers(file) {
  const text = readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) out.push(m[1]);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+'([^']+)'/g)) out.push(m[1]);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push(m[1]);
  for (const m of text.matchAll(/resolve\(\s*'([^']+)'\s*\)/g)) out.push(m[1]);
  return out;
}

const packageName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
const builtins = new Set(builtinModules);

// 1. Packages.
const packageRows = table('<!-- packages: checked by scripts/check-layers.mjs -->');
let packageCount = 0;
for (const [nameCell, dependsOn] of packageRows) {
  const name = /`([^`]+)`/.exec(nameCell)?.[1] ?? nameCell;
  const dir = join(root, 'packages', name.replace('@writ/', ''));
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.name !== name) problems.push(`ARCHITECTURE.md names ${name}, packages/${name.replace('@writ/', '')} is ${manifest.name}`);
  const allowedWrit = new Set(names(dependsOn).filter((n) => n.startsWith('@writ/')));
  const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  const used = new Set();
  for (const file of sources(join(dir, 'src'))) {
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const pkg = packageName(spec);
      used.add(pkg);
      const where = relative(root, file);
      if (pkg.startsWith('@writ/') && !allowedWrit.has(pkg))
        problems.push(
          `${where}: imports ${pkg}; ARCHITECTURE.md says ${name} depends on ${[...allowedWrit].join(', ') || 'no @writ package'}`,
        );
      if (!declared.has(pkg)) problems.push(`${where}: imports ${pkg}, which ${name}'s package.json does not declare`);
    }
  }
  for (const dep of Object.keys(manifest.dependencies ?? {}))
    if (!used.has(dep)) problems.push(`${name}: declares the dependency ${dep}, which no source file imports`);
  packageCount++;
}

// 2. Server folders.
const folderRows = table('<!-- server folders: checked by scripts/check-layers.mjs -->');
const allowed = new Map(folderRows.map(([folder, mayImport]) => [folder.replace(/`/g, '').replace(/\/$/, ''), new Set(names(mayImport))]));
const srcRoot = join(root, 'packages/server/src');
const onDisk = readdirSync(srcRoot).filter((n) => statSync(join(srcRoot, n)).isDirectory());
for (const folder of onDisk)
  if (!allowed.has(folder)) problems.push(`packages/server/src/${folder}/ is not in ARCHITECTURE.md's folder table`);
for (const folder of allowed.keys()) if (!onDisk.includes(folder)) problems.push(`ARCHITECTURE.md lists ${folder}/, which does not exist`);
let edges = 0;
for (const file of sources(srcRoot)) {
  const rel = relative(srcRoot, file).split(sep);
  if (rel.length < 2) continue; // index.ts at the root: the package's public surface
  const from = rel[0];
  for (const spec of specifiers(file)) {
    if (!spec.startsWith('.')) continue;
    const target = relative(srcRoot, normalize(join(dirname(file), spec))).split(sep);
    const to = target[0];
    if (to === from || to === '..' || target.length < 2) continue;
    edges++;
    const where = relative(root, file);
    if (!(allowed.get(from)?.has(to) ?? false)) problems.push(`${where}: ${from}/ imports ${to}/, which ARCHITECTURE.md does not let it`);
    if (target.length !== 2 || target[1] !== 'index.js')
      problems.push(`${where}: imports ${spec}; other folders are reached through their index.ts`);
  }
}

if (problems.length > 0) {
  console.error(`layering (ARCHITECTURE.md): ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
console.log(
  `layering ok: ${packageCount} packages, ${allowed.size} server folders, ${edges} cross-folder imports as ARCHITECTURE.md states`,
);
