/**
 * The units issuance-time policy decides: (method, path pattern) for `http` details, (tool pattern) for `mcp`
 * details. An `mcp` atom keeps the argument constraints of the detail it came from, so that rebuilding the token's
 * details from granted atoms never drops a constraint or lends one detail's constraints to another's tools.
 */
import { HTTP_METHODS, type ArgumentConstraint, type AuthorizationDetail, type HttpMethod } from '@writ/protocol';

export type Atom =
  | { type: 'http'; method: HttpMethod; path: string }
  | { type: 'mcp'; tool: string; arguments: Record<string, ArgumentConstraint> | undefined };

/** What Cedar is asked about an atom: atoms that differ only in argument constraints share one question. */
export function questionOf(a: Atom): string {
  return a.type === 'http' ? `${a.method} ${a.path}` : `tool ${a.tool}`;
}

/** Identity of an atom: its question, plus its argument constraints for `mcp`. */
function keyOf(a: Atom): string {
  return a.type === 'http' ? questionOf(a) : `${questionOf(a)}\u0000${constraintsKey(a.arguments)}`;
}

export function atomsOf(details: readonly AuthorizationDetail[]): Atom[] {
  const atoms = new Map<string, Atom>();
  const add = (a: Atom): void => {
    const k = keyOf(a);
    if (!atoms.has(k)) atoms.set(k, a);
  };
  for (const d of details) {
    if (d.type === 'http') {
      for (const method of d.actions) for (const path of d.paths) add({ type: 'http', method, path });
    } else {
      const args = d.arguments !== undefined && Object.keys(d.arguments).length > 0 ? d.arguments : undefined;
      for (const tool of d.tools) add({ type: 'mcp', tool, arguments: args });
    }
  }
  return [...atoms.values()];
}

/** Atoms of both lists, each once, in order. */
export function unionOfAtoms(...lists: Atom[][]): Atom[] {
  const out = new Map<string, Atom>();
  for (const list of lists) for (const a of list) if (!out.has(keyOf(a))) out.set(keyOf(a), a);
  return [...out.values()];
}

/**
 * Rebuilds details from granted atoms, all located at the resource. `http`: one detail per set of methods, with
 * every path granted exactly those methods. `mcp`: one detail per distinct set of argument constraints, with the
 * tools granted under it.
 */
export function detailsFromAtoms(atoms: readonly Atom[], resourceUri: string): AuthorizationDetail[] {
  const methodsByPath = new Map<string, Set<HttpMethod>>();
  const toolsByConstraints = new Map<string, { tools: string[]; arguments: Record<string, ArgumentConstraint> | undefined }>();
  for (const a of atoms) {
    if (a.type === 'http') {
      const set = methodsByPath.get(a.path) ?? new Set();
      set.add(a.method);
      methodsByPath.set(a.path, set);
    } else {
      const k = constraintsKey(a.arguments);
      const g = toolsByConstraints.get(k) ?? { tools: [], arguments: a.arguments };
      if (!g.tools.includes(a.tool)) g.tools.push(a.tool);
      toolsByConstraints.set(k, g);
    }
  }
  // Group paths that share the same method set, so the token stays small.
  const groups = new Map<string, { actions: HttpMethod[]; paths: string[] }>();
  for (const [path, methods] of methodsByPath) {
    const actions = HTTP_METHODS.filter((m) => methods.has(m));
    const key = actions.join(',');
    const g = groups.get(key) ?? { actions, paths: [] };
    g.paths.push(path);
    groups.set(key, g);
  }
  return [
    ...[...groups.values()].map((g): AuthorizationDetail => ({
      type: 'http',
      locations: [resourceUri],
      actions: g.actions,
      paths: g.paths,
    })),
    ...[...toolsByConstraints.values()].map((g): AuthorizationDetail => ({
      type: 'mcp',
      locations: [resourceUri],
      tools: g.tools,
      ...(g.arguments !== undefined ? { arguments: g.arguments } : {}),
    })),
  ];
}

/** A canonical string for a set of argument constraints: equal sets, equal keys, whatever the member order. */
function constraintsKey(args: Record<string, ArgumentConstraint> | undefined): string {
  return args === undefined || Object.keys(args).length === 0 ? '' : canonicalJson(args);
}

function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}
