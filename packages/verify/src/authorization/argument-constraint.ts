/**
 * Argument constraints of `mcp` authorization details (see @writ/protocol for the language): validation, matching a
 * value, and implication between two constraints for attenuation. Implication is sound (never true when some value
 * satisfies the first and not the second) and exact, except that a numeric range wider than one point never implies
 * an enum (even when it holds only a handful of doubles). Callers validate before matching: a malformed constraint
 * must grant nothing, so `satisfiesConstraint` and `constraintImplies` assume valid input.
 */
import type { ArgumentConstraint, ArgumentScalar } from '@writ/protocol';

export const MAX_ENUM_VALUES = 64;
export const MAX_CONSTRAINT_STRING = 1024;
export const MAX_MAX_LENGTH = 1_000_000;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): v is ArgumentScalar {
  return (
    (typeof v === 'string' && v.length <= MAX_CONSTRAINT_STRING) || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
  );
}

/** Why a value is not an ArgumentConstraint, or undefined when it is one. */
export function argumentConstraintProblem(c: unknown): string | undefined {
  if (!isPlainObject(c)) return 'a constraint must be an object';
  const keys = Object.keys(c);
  if (keys.length !== 1) return 'a constraint has exactly one of enum, prefix, range, maxLength, pathPrefix';
  const v = c[keys[0] as string];
  switch (keys[0]) {
    case 'enum':
      if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ENUM_VALUES) return `enum must list 1 to ${MAX_ENUM_VALUES} values`;
      return v.every(isScalar) ? undefined : 'enum values must be strings, finite numbers or booleans';
    case 'prefix':
      return typeof v === 'string' && v.length <= MAX_CONSTRAINT_STRING ? undefined : 'prefix must be a string';
    case 'range': {
      if (!isPlainObject(v) || !Object.keys(v).every((k) => k === 'min' || k === 'max')) return 'range has only min and max';
      const { min, max } = v;
      for (const b of [min, max])
        if (b !== undefined && !(typeof b === 'number' && Number.isFinite(b))) return 'range bounds must be finite numbers';
      return typeof min === 'number' && typeof max === 'number' && min > max ? 'range min must not exceed max' : undefined;
    }
    case 'pathPrefix':
      return typeof v === 'string' && v.length <= MAX_CONSTRAINT_STRING && isCanonicalPath(v)
        ? undefined
        : 'pathPrefix must be a canonical absolute path (no empty, "." or ".." segments, no trailing "/")';
    case 'maxLength':
      return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_MAX_LENGTH
        ? undefined
        : 'maxLength must be an integer ≥ 0';
    default:
      return `unknown constraint ${JSON.stringify(keys[0])}`;
  }
}

/** The canonical spelling of a valid constraint: enum values without duplicates, range without absent bounds. */
export function canonicalArgumentConstraint(c: ArgumentConstraint): ArgumentConstraint {
  if ('enum' in c) return { enum: [...new Set(c.enum)] };
  if ('range' in c) {
    return {
      range: { ...(c.range.min !== undefined ? { min: c.range.min } : {}), ...(c.range.max !== undefined ? { max: c.range.max } : {}) },
    };
  }
  return { ...c };
}

/** Length in Unicode code points (a lone surrogate counts as one), without copying short strings. */
function withinLength(s: string, max: number): boolean {
  if (s.length <= max) return true;
  if (s.length > 2 * max) return false;
  let n = 0;
  for (const _ of s) if (++n > max) return false;
  return true;
}

/**
 * A canonical absolute POSIX path: `/`, or `/` followed by segments that are neither empty, `.` nor `..`, without
 * backslashes or NUL. Servers resolve `..`, `//` and `\\` in their own ways; a path with none of them means the same
 * to every reader, so a prefix check on it is a check on the directory.
 */
export function isCanonicalPath(p: string): boolean {
  if (p === '/') return true;
  if (!p.startsWith('/') || p.endsWith('/') || p.includes('\0') || p.includes('\\')) return false;
  return p
    .slice(1)
    .split('/')
    .every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/** Is canonical path `p` the directory `dir` (canonical) or below it? */
function withinDirectory(p: string, dir: string): boolean {
  return dir === '/' || p === dir || p.startsWith(`${dir}/`);
}

/** Does a value (already read from the call) satisfy a valid constraint? */
export function satisfiesConstraint(c: ArgumentConstraint, v: unknown): boolean {
  if ('enum' in c) return c.enum.some((e) => e === v);
  if ('pathPrefix' in c) return typeof v === 'string' && v.length <= 4096 && isCanonicalPath(v) && withinDirectory(v, c.pathPrefix);
  if ('prefix' in c) return typeof v === 'string' && v.startsWith(c.prefix);
  if ('range' in c) {
    const { min, max } = c.range;
    return typeof v === 'number' && Number.isFinite(v) && (min === undefined || v >= min) && (max === undefined || v <= max);
  }
  return typeof v === 'string' && withinLength(v, c.maxLength);
}

/** Does every value that satisfies `child` also satisfy `parent`? (Both valid.) */
export function constraintImplies(child: ArgumentConstraint, parent: ArgumentConstraint): boolean {
  if ('enum' in child) return child.enum.every((v) => satisfiesConstraint(parent, v));
  if ('prefix' in child) return 'prefix' in parent && child.prefix.startsWith(parent.prefix);
  if ('pathPrefix' in child) {
    // Every value is the directory or below it, so starts with the directory's own spelling.
    if ('pathPrefix' in parent) return withinDirectory(child.pathPrefix, parent.pathPrefix);
    return 'prefix' in parent && child.pathPrefix.startsWith(parent.prefix);
  }
  if ('range' in child) {
    const { min, max } = child.range;
    if ('range' in parent) {
      return (
        (parent.range.min === undefined || (min !== undefined && min >= parent.range.min)) &&
        (parent.range.max === undefined || (max !== undefined && max <= parent.range.max))
      );
    }
    // A one-point range is the enum of that number.
    return 'enum' in parent && min !== undefined && min === max && satisfiesConstraint(parent, min);
  }
  // maxLength: strings of unbounded content.
  if ('maxLength' in parent) return child.maxLength <= parent.maxLength;
  if ('prefix' in parent) return parent.prefix === '';
  return 'enum' in parent && child.maxLength === 0 && satisfiesConstraint(parent, '');
}
