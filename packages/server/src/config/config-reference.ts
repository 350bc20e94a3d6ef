/**
 * The key table of docs/configuration.md, built from the schema rather than written by hand so that the reference
 * cannot drift from what is validated: `npm run docs:config` writes it between the markers, and
 * test/config/config-reference.test.ts fails when the doc and `configReference()` differ.
 */
import { z } from 'zod';
import { ENV_OVERRIDES } from './load-config.js';
import { configSchema } from './schema.js';

export const CONFIG_REFERENCE_START =
  '<!-- BEGIN generated from packages/server/src/config/schema.ts by npm run docs:config; do not edit -->';
export const CONFIG_REFERENCE_END = '<!-- END generated from packages/server/src/config/schema.ts -->';

export type ObjectSchema = z.core.$ZodObject<z.core.$ZodShape, z.core.$ZodObjectConfig>;

export interface ConfigReferenceRow {
  /** Dotted path, e.g. `server.port`. */
  key: string;
  env: string | undefined;
  /** Markdown; `—` when the schema has no default. */
  default: string;
  /** Markdown. */
  meaning: string;
}

/** One row per leaf key, in schema order; throws, naming every such key, when a leaf has no description. */
export function configReferenceRows(schema: ObjectSchema = configSchema): ConfigReferenceRow[] {
  const envByKey = new Map(ENV_OVERRIDES.map(([name, path]) => [path.join('.'), name]));
  const rows: ConfigReferenceRow[] = [];
  const undescribed: string[] = [];
  const walk = (object: ObjectSchema, prefix: string): void => {
    for (const [name, field] of Object.entries(object._zod.def.shape)) {
      const key = `${prefix}${name}`;
      const { inner, description, defaultText, defaultValue } = peel(field);
      if (inner instanceof z.core.$ZodObject) {
        walk(inner, `${key}.`);
        continue;
      }
      if (description === undefined || description.trim() === '') {
        undescribed.push(key);
        continue;
      }
      rows.push({
        key,
        env: envByKey.get(key),
        default: defaultText ?? (defaultValue === undefined ? '—' : renderValue(defaultValue.value)),
        meaning: description,
      });
    }
  };
  walk(schema, '');
  if (undescribed.length > 0)
    throw new Error(
      `configuration key(s) without a description: ${undescribed.join(', ')}; give each .describe() or .meta({ description }) in the schema`,
    );
  return rows;
}

/** The markdown table (header and one row per leaf key), ending in a newline. */
export function configReference(schema: ObjectSchema = configSchema): string {
  const lines = ['| key | environment | default | meaning |', '|---|---|---|---|'];
  for (const row of configReferenceRows(schema)) {
    lines.push(tableRow([`\`${row.key}\``, row.env === undefined ? '' : `\`${row.env}\``, row.default, row.meaning]));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The table between the markers; the blank lines that set it apart from them are not part of it. Throws unless each
 * marker occurs exactly once, in order.
 */
export function extractConfigReference(doc: string): string {
  const { from, to } = region(doc);
  return doc.slice(from, to);
}

/** `doc` with the text between the markers replaced by `table`. */
export function replaceConfigReference(doc: string, table: string): string {
  const { from, to } = region(doc);
  return `${doc.slice(0, from)}${table}${doc.slice(to)}`;
}

// Blank lines around the table: without them a Markdown renderer may take the end marker for one more table row.
const OPENING = `${CONFIG_REFERENCE_START}\n\n`;
const CLOSING = `\n${CONFIG_REFERENCE_END}`;

function region(doc: string): { from: number; to: number } {
  const start = doc.indexOf(OPENING);
  const end = doc.indexOf(CLOSING, start + OPENING.length);
  if (start === -1 || end === -1)
    throw new Error(`expected the line ${CONFIG_REFERENCE_START}, a blank line, the table, a blank line and ${CONFIG_REFERENCE_END}`);
  if (doc.indexOf(CONFIG_REFERENCE_START, start + 1) !== -1 || doc.indexOf(CONFIG_REFERENCE_END, end + CLOSING.length) !== -1)
    throw new Error('the configuration reference markers occur more than once');
  return { from: start + OPENING.length, to: end };
}

interface Peeled {
  inner: z.core.$ZodType;
  description: string | undefined;
  defaultText: string | undefined;
  /** Boxed, so that a default of `undefined` would still count as one. */
  defaultValue: { value: unknown } | undefined;
}

/**
 * Looks through the wrappers a key's type sits in (default, optional, …). A description or default text may be given
 * on any of them, because `.describe()` before `.default()` registers it on the inner type; the outermost wins.
 */
function peel(field: z.core.$ZodType): Peeled {
  let description: string | undefined;
  let defaultText: string | undefined;
  let defaultValue: { value: unknown } | undefined;
  let inner = field;
  for (;;) {
    const meta = z.globalRegistry.get(inner);
    description ??= meta?.description;
    defaultText ??= meta?.defaultText;
    if (inner instanceof z.core.$ZodDefault || inner instanceof z.core.$ZodPrefault) {
      defaultValue ??= { value: inner._zod.def.defaultValue };
      inner = inner._zod.def.innerType;
    } else if (inner instanceof z.core.$ZodOptional || inner instanceof z.core.$ZodNullable) {
      inner = inner._zod.def.innerType;
    } else {
      return { inner, description, defaultText, defaultValue };
    }
  }
}

function renderValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

function tableRow(cells: string[]): string {
  // A `|` inside a cell would end it; newlines would end the row.
  const escaped = cells.map((c) => c.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|'));
  return `|${escaped.map((c) => (c === '' ? ' ' : ` ${c} `)).join('|')}|`;
}
