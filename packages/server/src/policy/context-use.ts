/**
 * Which `context` attributes can a policy set read? Walks each policy's JSON form (Cedar's est). `context.x` and
 * `context has x` name `x`; any other use of `context` (passed whole, compared, `has` with a dynamic path) means the
 * decision may depend on every attribute. The call-decision cache keys on exactly these attributes.
 */
import type { ContextUse } from './types.js';

type Json = unknown;

export function contextUseOf(policies: Json[]): ContextUse {
  const attrs = new Set<string>();
  let all = false;
  const visit = (node: Json, parentUsesContextSafely: boolean): void => {
    if (all || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) visit(n, false);
      return;
    }
    const obj = node as Record<string, Json>;
    if (obj['Var'] === 'context' && Object.keys(obj).length === 1) {
      if (!parentUsesContextSafely) all = true;
      return;
    }
    for (const [key, value] of Object.entries(obj)) {
      if ((key === '.' || key === 'has') && isObj(value)) {
        const left = value['left'];
        if (isObj(left) && left['Var'] === 'context') {
          const attr = value['attr'];
          if (typeof attr === 'string') attrs.add(attr);
          else if (Array.isArray(attr) && typeof attr[0] === 'string') attrs.add(attr[0]);
          else all = true;
          continue;
        }
      }
      visit(value, false);
    }
  };
  for (const p of policies) {
    const conditions = isObj(p) ? p['conditions'] : undefined;
    visit(conditions ?? p, false);
  }
  return all ? { all: true } : { all: false, attributes: [...attrs].sort() };
}

function isObj(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
