#!/usr/bin/env node
// Rewrites the generated key table of docs/configuration.md from the configuration schema. It imports the compiled
// module, so `npm run docs:config` builds first. Only the text between the markers changes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReference, replaceConfigReference } from '../packages/server/dist/src/config/config-reference.js';

const docPath = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const before = readFileSync(docPath, 'utf8');
const after = replaceConfigReference(before, configReference());
if (after === before) console.log('docs/configuration.md: configuration reference already up to date');
else {
  writeFileSync(docPath, after);
  console.log('docs/configuration.md: configuration reference rewritten');
}
