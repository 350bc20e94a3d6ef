/**
 * Path patterns of `http` authorization details: segments separated by `/`; a segment `*` matches exactly one
 * non-empty segment; a final segment `**` matches zero or more segments (a trailing slash included); every other
 * segment matches literally after the same canonicalisation requests get. Dot and empty segments are invalid.
 */
import { canonicalSegments } from '../path/normalize-request-path.js';

export type CompiledPattern = readonly string[];

export class PathPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathPatternError';
  }
}

/** The canonical spelling of a pattern; throws PathPatternError when it is not a valid pattern. */
export function canonicalPathPattern(pattern: string): string {
  return `/${compilePathPattern(pattern).join('/')}`;
}

export function compilePathPattern(pattern: string): CompiledPattern {
  if (pattern === '/') return [''];
  const segs = canonicalSegments(pattern, false);
  if (typeof segs === 'string') throw new PathPatternError(segs);
  segs.forEach((s, i) => {
    if (s === '**' && i !== segs.length - 1) throw new PathPatternError('"**" may only be the last segment');
    if (s !== '*' && s !== '**' && s.includes('*')) throw new PathPatternError('"*" must be a whole segment');
  });
  return segs;
}

/** Does the compiled pattern match the canonical path's segments? */
export function matchSegments(pattern: CompiledPattern, path: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    if (p === '**') return true;
    if (i >= path.length) return false;
    const s = path[i] as string;
    if (p === '*' ? s === '' : p !== s) return false;
  }
  return pattern.length === path.length;
}

/** Is every path `inner` matches also matched by `outer`? (Structural containment, for attenuation.) */
export function patternContains(outer: CompiledPattern, inner: CompiledPattern): boolean {
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i] as string;
    if (o === '**') return true;
    if (i >= inner.length) return false;
    const n = inner[i] as string;
    if (n === '**') return false;
    if (o === '*' ? n === '' : o !== n) return false;
  }
  return outer.length === inner.length;
}
