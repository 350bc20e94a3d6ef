/**
 * Subject patterns bind a registered agent to the workload tokens that may stand for it: the pattern is matched
 * against the token's whole `sub`. A `*` matches one or more characters other than `/` and `:`, the separators of
 * Kubernetes (`system:serviceaccount:<ns>:<name>`), SPIFFE (`spiffe://<td>/<path>`) and CI subjects
 * (`repo:<org>/<repo>:ref:<ref>`), so a wildcard never widens a binding across a namespace, path segment or field.
 * Everything else is literal. `**` is refused: a pattern that spans separators is a binding nobody can review.
 */
import type { InternalErrorCode } from '../errors/index.js';

const PATTERN = /^[\x21-\x7e]{1,255}$/;

export class SubjectPatternError extends Error {
  readonly code: Extract<InternalErrorCode, 'ERR_SUBJECT_PATTERN_INVALID'> = 'ERR_SUBJECT_PATTERN_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SubjectPatternError';
  }
}

export function compileSubjectPattern(pattern: string): RegExp {
  if (!PATTERN.test(pattern)) throw new SubjectPatternError('a subject pattern is 1-255 printable ASCII characters without spaces');
  if (pattern.includes('**')) throw new SubjectPatternError('"**" is not allowed; "*" stays within one segment');
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('[^/:]+');
  return new RegExp(`^${source}$`);
}

export function matchesSubjectPattern(pattern: string, subject: string): boolean {
  try {
    return compileSubjectPattern(pattern).test(subject);
  } catch {
    return false;
  }
}
