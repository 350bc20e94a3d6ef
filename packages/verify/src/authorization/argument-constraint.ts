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
  if (keys.length !== 1) return 'a constraint has exactly one of enum, prefix, range, maxLength';
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

/** Does a value (already read from the call) satisfy a valid constraint? */
export function satisfiesConstraint(c: ArgumentConstraint, v: unknown): boolean {
  if ('enum' in c) return c.enum.some((e) => e === v);
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
