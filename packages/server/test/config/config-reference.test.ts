import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import {
  CONFIG_REFERENCE_END,
  CONFIG_REFERENCE_START,
  configReference,
  configReferenceRows,
  extractConfigReference,
  replaceConfigReference,
} from '../../src/config/config-reference.js';
import { ENV_OVERRIDES } from '../../src/config/load-config.js';
import { configSchema } from '../../src/config/schema.js';

// Compiled to packages/server/dist/test/config/: the repository root is five levels up.
const DOC = new URL('../../../../../docs/configuration.md', import.meta.url);

/** Leaf keys as JSON Schema sees them: a second walk, apart from the generator's, so one cannot hide a key from both. */
function leafKeys(properties: Record<string, z.core.JSONSchema._JSONSchema>, prefix = ''): string[] {
  return Object.entries(properties).flatMap(([name, property]) =>
    typeof property === 'object' && property.type === 'object' && property.properties !== undefined
      ? leafKeys(property.properties, `${prefix}${name}.`)
      : [`${prefix}${name}`],
  );
}

function rowKeys(table: string): string[] {
  return table.split('\n').flatMap((line) => {
    const key = /^\| `([^`]+)` \|/.exec(line)?.[1];
    return key === undefined ? [] : [key];
  });
}

test('docs/configuration.md carries exactly the reference generated from the schema', () => {
  const documented = extractConfigReference(readFileSync(DOC, 'utf8'));
  const generated = configReference();
  const docLines = documented.split('\n');
  const genLines = generated.split('\n');
  const at = docLines.findIndex((line, i) => line !== genLines[i]);
  const where =
    at === -1
      ? 'the schema has more rows'
      : `table line ${at + 1}: the doc has ${JSON.stringify(docLines[at])}, the schema gives ${JSON.stringify(genLines[at] ?? '(nothing)')}`;
  assert.ok(
    documented === generated,
    `docs/configuration.md is out of step with packages/server/src/config/schema.ts (${where}); run \`npm run docs:config\``,
  );
});

test('every leaf key of the schema is a row of the doc, in schema order', () => {
  const jsonSchema = z.toJSONSchema(configSchema, { io: 'input' });
  const keys = leafKeys(jsonSchema.properties ?? {});
  assert.ok(keys.includes('server.port') && keys.includes('log.level'), `unexpected walk of the JSON Schema: ${keys.join(', ')}`);
  assert.deepEqual(rowKeys(extractConfigReference(readFileSync(DOC, 'utf8'))), keys, 'run `npm run docs:config`');
  assert.deepEqual(rowKeys(configReference()), keys);
});

test('every environment override names a leaf key, and that row shows the variable', () => {
  const rows = configReferenceRows();
  for (const [name, path] of ENV_OVERRIDES) {
    const row = rows.find((r) => r.key === path.join('.'));
    assert.ok(row !== undefined, `${name} overrides ${path.join('.')}, which is not a key of the schema`);
    assert.equal(row.env, name);
  }
  assert.equal(rows.filter((r) => r.env !== undefined).length, ENV_OVERRIDES.length);
});

test('a key without a description stops the generator, which names every such key', () => {
  const schema = z.strictObject({
    a: z
      .strictObject({
        described: z.number().default(1).describe('has one'),
        bare: z.string().optional(),
        blank: z.boolean().default(false).describe('  '),
      })
      .prefault({}),
    top: z.number(),
  });
  assert.throws(
    () => configReference(schema),
    (err: unknown) => err instanceof Error && /a\.bare, a\.blank, top\b/.test(err.message) && !err.message.includes('described'),
  );
});

test('the generator renders keys, defaults and meanings from the schema', () => {
  const schema = z.strictObject({
    s: z
      .strictObject({
        num: z.number().int().default(30_000).describe('a number'),
        // Described before `.default()`: the description sits on the inner type.
        str: z.string().describe('a string').default('x.db'),
        flag: z.boolean().default(false).describe('a | flag'),
        choice: z.enum(['a', 'b']).default('b').describe('one of\n  two'),
        none: z.string().optional().describe('no default'),
        bytes: z
          .number()
          .default(10 * 1024 * 1024)
          .meta({ description: 'a size', defaultText: '10 MiB' }),
        list: z.array(z.string()).default(['p', 'q']).describe('a list'),
      })
      .prefault({}),
    top: z.string().nullable().default(null).describe('at the top'),
  });
  assert.equal(
    configReference(schema),
    [
      '| key | environment | default | meaning |',
      '|---|---|---|---|',
      '| `s.num` | | 30000 | a number |',
      '| `s.str` | | `x.db` | a string |',
      '| `s.flag` | | `false` | a \\| flag |',
      '| `s.choice` | | `b` | one of two |',
      '| `s.none` | | — | no default |',
      '| `s.bytes` | | 10 MiB | a size |',
      '| `s.list` | | `["p","q"]` | a list |',
      '| `top` | | `null` | at the top |',
      '',
    ].join('\n'),
  );
});

test('the region between the markers is what is replaced, and nothing else', () => {
  const doc = `# T\n\nbefore\n\n${CONFIG_REFERENCE_START}\n\n| old |\n\n${CONFIG_REFERENCE_END}\n\nafter\n`;
  const updated = replaceConfigReference(doc, '| new |\n');
  assert.equal(updated, `# T\n\nbefore\n\n${CONFIG_REFERENCE_START}\n\n| new |\n\n${CONFIG_REFERENCE_END}\n\nafter\n`);
  assert.equal(extractConfigReference(updated), '| new |\n');
  assert.throws(() => extractConfigReference('# no markers\n'), /expected the line/);
  assert.throws(() => extractConfigReference(`${doc}\n${doc}`), /more than once/);
});
