/**
 * Tool arguments in Cedar. Each MCP tool whose input schema Writ has recorded gets a Cedar action of its own,
 * `Writ::Action::"mcp_tool:<resource id>/<tool>"`, whose `context.arguments` is typed from that schema, so a grant's
 * condition over arguments is validated (a misspelt argument, a string compared as a number) when it is written.
 *
 * Argument conditions only narrow: they are `forbid` policies on the tool's action, asked at call time after the
 * `mcp_tool` question has allowed the call (the token was issued before any arguments existed, so nothing at issuance
 * could depend on them). The JSON Schema → Cedar mapping keeps what Cedar can state exactly and leaves the rest out:
 *
 * - `string` → String, `integer` → Long (a safe integer), `boolean` → Bool, `number` → `decimal` (at most four
 *   fractional digits: compare with `.lessThanOrEqual(decimal("100.0"))`), `array` with `items` → Set, `object` with
 *   `properties` → a record (the properties `required` names are required, the rest optional);
 * - a nullable type (`["string", "null"]`) is its type, optional; any other union, `$ref`, `anyOf`/`oneOf`/`allOf`, or
 *   a property whose name starts with `__` (Cedar's JSON escapes) is left out, so no policy can name it.
 *
 * At a call the arguments are read through the same type: properties the type leaves out are dropped, and a value
 * that does not fit (a string where a Long is declared, 1.5 for an integer, a missing required argument) means the
 * arguments cannot be put to the grants — the call is refused (fail closed).
 */
import type { CedarValue } from './types.js';

export const TOOL_ACTION_PREFIX = 'mcp_tool:';

/** The Cedar action id of one resource's tool. Resource ids never contain `/`, so the first `/` ends the id. */
export function toolActionId(resourceId: string, tool: string): string {
  return `${TOOL_ACTION_PREFIX}${resourceId}/${tool}`;
}

export function parseToolActionId(id: string): { resourceId: string; tool: string } | undefined {
  if (!id.startsWith(TOOL_ACTION_PREFIX)) return undefined;
  const rest = id.slice(TOOL_ACTION_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { resourceId: rest.slice(0, slash), tool: rest.slice(slash + 1) };
}

/** A tool's input schema as its upstream lists it (`tools/list` → `inputSchema`), recorded for one resource. */
export interface ToolSchema {
  resourceId: string;
  tool: string;
  inputSchema: unknown;
}

export type ArgumentType =
  { kind: 'String' } | { kind: 'Long' } | { kind: 'Bool' } | { kind: 'Decimal' } | { kind: 'Set'; element: ArgumentType } | RecordType;

export interface RecordType {
  kind: 'Record';
  attributes: Record<string, { type: ArgumentType; required: boolean }>;
}

/** Nesting beyond this is left out: a policy does not reach that deep, and the schema stays small. */
const MAX_DEPTH = 8;
const MAX_ATTRIBUTES = 256;

/** The type of a tool's `context.arguments`: always a record (a tool without properties takes none). */
export function argumentTypeOf(inputSchema: unknown): RecordType {
  const t = typeOf(inputSchema, 0);
  return t?.type.kind === 'Record' ? t.type : { kind: 'Record', attributes: {} };
}

function typeOf(schema: unknown, depth: number): { type: ArgumentType; nullable: boolean } | undefined {
  if (!isObject(schema) || depth > MAX_DEPTH) return undefined;
  if ('$ref' in schema || 'anyOf' in schema || 'oneOf' in schema || 'allOf' in schema) return undefined;
  let declared = schema['type'];
  let nullable = false;
  if (Array.isArray(declared)) {
    const nonNull = declared.filter((d) => d !== 'null');
    nullable = nonNull.length < declared.length;
    if (nonNull.length !== 1) return undefined;
    declared = nonNull[0];
  }
  switch (declared) {
    case 'string':
      return { type: { kind: 'String' }, nullable };
    case 'integer':
      return { type: { kind: 'Long' }, nullable };
    case 'number':
      return { type: { kind: 'Decimal' }, nullable };
    case 'boolean':
      return { type: { kind: 'Bool' }, nullable };
    case 'array': {
      const element = typeOf(schema['items'], depth + 1);
      return element === undefined || element.nullable ? undefined : { type: { kind: 'Set', element: element.type }, nullable };
    }
    case 'object': {
      const properties = isObject(schema['properties']) ? schema['properties'] : {};
      const required = new Set(Array.isArray(schema['required']) ? schema['required'].filter((r) => typeof r === 'string') : []);
      const attributes: RecordType['attributes'] = {};
      let n = 0;
      for (const [name, sub] of Object.entries(properties)) {
        if (name.startsWith('__') || ++n > MAX_ATTRIBUTES) continue;
        const t = typeOf(sub, depth + 1);
        if (t !== undefined) attributes[name] = { type: t.type, required: required.has(name) && !t.nullable };
      }
      return { type: { kind: 'Record', attributes }, nullable };
    }
    default:
      return undefined;
  }
}

/** The type in Cedar's JSON schema format. */
export function cedarSchemaType(t: ArgumentType): Record<string, unknown> {
  switch (t.kind) {
    case 'String':
    case 'Long':
      return { type: t.kind };
    case 'Bool':
      return { type: 'Boolean' };
    case 'Decimal':
      return { type: 'Extension', name: 'decimal' };
    case 'Set':
      return { type: 'Set', element: cedarSchemaType(t.element) };
    case 'Record':
      return {
        type: 'Record',
        attributes: Object.fromEntries(
          Object.entries(t.attributes).map(([name, a]) => [name, { ...cedarSchemaType(a.type), required: a.required }]),
        ),
      };
  }
}

/** `decimal`'s range and precision: four fractional digits, within a signed 64-bit count of ten-thousandths. */
const DECIMAL_TEXT = /^-?\d{1,15}(\.\d{1,4})?$/;
const DECIMAL_LIMIT = 922_337_203_685_477;

/**
 * A call's arguments as the Cedar value of `type`, or undefined when they do not fit it. Only what the type declares
 * is kept: an extra property, whatever its name, never reaches Cedar (so `__entity` or `__extn` in a call cannot be
 * read as an entity reference or an extension value).
 */
export function cedarArguments(type: RecordType, value: unknown): Record<string, CedarValue> | undefined {
  const v = valueOf(type, value ?? {});
  return v === undefined ? undefined : (v as Record<string, CedarValue>);
}

function valueOf(t: ArgumentType, v: unknown): CedarValue | undefined {
  switch (t.kind) {
    case 'String':
      return typeof v === 'string' ? v : undefined;
    case 'Long':
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
    case 'Bool':
      return typeof v === 'boolean' ? v : undefined;
    case 'Decimal': {
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > DECIMAL_LIMIT) return undefined;
      const text = Number.isInteger(v) ? `${v}.0` : String(v);
      return DECIMAL_TEXT.test(text) ? { __extn: { fn: 'decimal', arg: text } } : undefined;
    }
    case 'Set': {
      if (!Array.isArray(v)) return undefined;
      const out: CedarValue[] = [];
      for (const item of v) {
        const c = valueOf(t.element, item);
        if (c === undefined) return undefined;
        out.push(c);
      }
      return out;
    }
    case 'Record': {
      if (!isObject(v)) return undefined;
      const out: Record<string, CedarValue> = {};
      for (const [name, a] of Object.entries(t.attributes)) {
        const present = Object.prototype.hasOwnProperty.call(v, name) && v[name] !== null && v[name] !== undefined;
        if (!present) {
          if (a.required) return undefined;
          continue;
        }
        const c = valueOf(a.type, v[name]);
        if (c === undefined) return undefined;
        out[name] = c;
      }
      return out;
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
