/**
 * The units issuance-time policy decides: (method, path pattern) for `http` details; a tool pattern, a prompt pattern
 * or a resource URI pattern for `mcp` details. Tool and prompt atoms keep the argument constraints of the detail they
 * came from, so that rebuilding the token's details from granted atoms never drops a constraint or lends one
 * detail's constraints to another's tools.
 */
import { HTTP_METHODS, type ArgumentConstraint, type AuthorizationDetail, type HttpMethod } from '@writ/protocol';

export type Atom =
  | { type: 'http'; method: HttpMethod; path: string }
  | { type: 'mcp'; tool: string; arguments: Record<string, ArgumentConstraint> | undefined }
  | { type: 'mcp-prompt'; prompt: string; arguments: Record<string, ArgumentConstraint> | undefined }
  | { type: 'mcp-resource'; uri: string };

/** What Cedar is asked about an atom: atoms that differ only in argument constraints share one question. */
export function questionOf(a: Atom): string {
  switch (a.type) {
    case 'http':
      return `${a.method} ${a.path}`;
    case 'mcp':
      return `tool ${a.tool}`;
    case 'mcp-prompt':
      return `prompt ${a.prompt}`;
    case 'mcp-resource':
      return `resource ${a.uri}`;
  }
}

/** Identity of an atom: its question, plus its argument constraints for tools and prompts. */
function keyOf(a: Atom): string {
  return a.type === 'mcp' || a.type === 'mcp-prompt' ? `${questionOf(a)}\u0000${constraintsKey(a.arguments)}` : questionOf(a);
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
      for (const tool of d.tools ?? []) add({ type: 'mcp', tool, arguments: args });
      for (const prompt of d.prompts ?? []) add({ type: 'mcp-prompt', prompt, arguments: args });
      for (const uri of d.resources ?? []) add({ type: 'mcp-resource', uri });
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
  const toolsByConstraints = new Map<
    string,
    { tools: string[]; prompts: string[]; arguments: Record<string, ArgumentConstraint> | undefined }
  >();
  const resources: string[] = [];
  for (const a of atoms) {
    if (a.type === 'http') {
      const set = methodsByPath.get(a.path) ?? new Set();
      set.add(a.method);
      methodsByPath.set(a.path, set);
    } else if (a.type === 'mcp-resource') {
      if (!resources.includes(a.uri)) resources.push(a.uri);
    } else {
      const k = constraintsKey(a.arguments);
      const g = toolsByConstraints.get(k) ?? { tools: [], prompts: [], arguments: a.arguments };
      const list = a.type === 'mcp' ? g.tools : g.prompts;
      const name = a.type === 'mcp' ? a.tool : a.prompt;
      if (!list.includes(name)) list.push(name);
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
      ...(g.tools.length > 0 ? { tools: g.tools } : {}),
      ...(g.prompts.length > 0 ? { prompts: g.prompts } : {}),
      ...(g.arguments !== undefined ? { arguments: g.arguments } : {}),
    })),
    ...(resources.length > 0 ? [{ type: 'mcp', locations: [resourceUri], resources } satisfies AuthorizationDetail] : []),
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
