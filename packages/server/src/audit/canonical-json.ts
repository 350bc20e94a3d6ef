/**
 * Canonical JSON, RFC 8785 (JSON Canonicalization Scheme): object members sorted by the UTF-16 code units of their
 * names, no whitespace, strings and numbers serialised as ECMAScript's JSON.stringify does (which is what JCS
 * specifies). The audit hash covers this text, so the same event always hashes the same, in any process.
 *
 * Values follow JSON.stringify where it is unambiguous (`toJSON` is honoured, so a Date becomes its ISO string and a
 * SecretValue becomes "[redacted]"; object members whose value is undefined are left out) and refuse what it would
 * silently change: non-finite numbers, bigint, functions, symbols, undefined inside arrays, cycles (as nesting past
 * 64 levels).
 */

/**
 * @example
 * canonicalJson({ b: 1, a: [true, null, 'x'] }) // '{"a":[true,null,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0, '$');
}

// Deeper than any event Writ writes; a cycle reaches it quickly and is reported as one. Cheaper than tracking a set
// of visited objects on the per-call path.
const MAX_DEPTH = 64;

function write(value: unknown, depth: number, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${path} is not a finite number`);
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: ${path} is a ${typeof value}, which JSON cannot represent`);
  }
  if (depth >= MAX_DEPTH) throw new TypeError(`canonicalJson: ${path} is nested deeper than ${MAX_DEPTH} (a cycle?)`);
  const obj = value as Record<string, unknown>;
  if (typeof obj['toJSON'] === 'function') return write((obj as { toJSON(): unknown }).toJSON(), depth + 1, path);
  if (Array.isArray(obj)) {
    let out = '[';
    for (let i = 0; i < obj.length; i++) {
      const v: unknown = obj[i];
      if (v === undefined) throw new TypeError(`canonicalJson: ${path}[${i}] is undefined`);
      out += (i === 0 ? '' : ',') + write(v, depth + 1, path);
    }
    return `${out}]`;
  }
  const keys = Object.keys(obj);
  // Default sort compares UTF-16 code units, exactly as RFC 8785 §3.2.3 asks. Objects built in that order (the audit
  // event is) skip the sort.
  if (!inOrder(keys)) keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${quotedKey(k)}:${write(v, depth + 1, path)}`;
    first = false;
  }
  return `${out}}`;
}

function inOrder(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}

// Member names repeat from event to event (the event's own fields, the data keys of each producer): each is quoted
// once. Bounded, so names an attacker controls (a tool's argument names) cannot grow it.
const QUOTED = new Map<string, string>();
const MAX_QUOTED = 4096;

function quotedKey(k: string): string {
  let q = QUOTED.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (QUOTED.size < MAX_QUOTED && k.length <= 64) QUOTED.set(k, q);
  }
  return q;
}
