/** `writ agents …`: the agent register (NHI inventory) with its lifecycle, what is due for review, the spawn tree. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { client, enc, listCommand, output } from './cli-support.js';

export function addAgentCommands(program: Command): void {
  const agents = program.command('agents').description('the agent register (NHI inventory)');
  listCommand(agents, 'list registered agents', '/agents', ['id', 'name', 'owner', 'kind', 'status']);
  agents
    .command('tree <id>')
    .description("the spawn tree: the agent's tasks and the sub-agents each delegated to, for which user")
    .option('--limit <n>', 'at most this many tasks in all', '1000')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (id: string, o: { limit: string; json?: boolean }) => {
      const tree = await client().get<SpawnTreeView>(`/agents/${enc(id)}/spawn-tree?limit=${encodeURIComponent(o.limit)}`);
      if (o.json === true) output(tree, true);
      else printSpawnTree(tree);
    });
  agents
    .command('show <id>')
    .description('show an agent')
    .action(async (id: string) => output(await client().get(`/agents/${enc(id)}`), true));
  agents
    .command('create <id>')
    .description('register an agent')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--owner <owner>', 'the person (their Writ user id, <provider>:<subject>) or team responsible for the agent')
    .option('--jwks <file>', "file with the agent's public JWKS (private_key_jwt)")
    .option('--workload <issuer=pattern>', 'workload-identity binding: workload issuer id and sub pattern (repeatable)', collect, [])
    .option('--kind <kind>', 'agent | service_account | workload', 'agent')
    .option('--description <text>', 'what the agent is for', '')
    .option('--expires <when>', 'end of the registration (a date or an RFC 3339 date-time): refused from then on')
    .option('--review-by <when>', 'when the owner should confirm it is still needed (a date or a date-time)')
    .action(async (id: string, o: CreateOptions) =>
      output(
        await client().post('/agents', {
          id,
          name: o.name,
          owner: o.owner,
          kind: o.kind,
          description: o.description,
          ...(o.expires !== undefined ? { expiresAt: o.expires } : {}),
          ...(o.reviewBy !== undefined ? { reviewBy: o.reviewBy } : {}),
          ...(o.jwks !== undefined ? { jwks: JSON.parse(readFileSync(o.jwks, 'utf8')) as unknown } : {}),
          workload: o.workload.map(parseBinding),
        }),
        true,
      ),
    );
  for (const [cmd, status, desc] of [
    ['suspend', 'suspended', 'suspend an agent; every token it holds is revoked'],
    ['offboard', 'offboarded', 'offboard an agent; every token it holds is revoked'],
    ['activate', 'active', 'make a suspended or offboarded agent active again'],
  ] as const) {
    agents
      .command(`${cmd} <id>`)
      .description(desc)
      .option('--reason <text>', 'why, for the audit log')
      .action(async (id: string, o: { reason?: string }) =>
        output(await client().post(`/agents/${enc(id)}/status`, { status, ...(o.reason !== undefined ? { reason: o.reason } : {}) }), true),
      );
  }

  agents
    .command('update <id>')
    .description("change an agent's name, owner, description, end date or review date")
    .option('--name <name>', 'display name')
    .option('--owner <owner>', 'the person (their Writ user id, <provider>:<subject>) or team responsible')
    .option('--description <text>', 'what the agent is for')
    .option('--expires <when>', 'end of the registration: a date, an RFC 3339 date-time, or "none"')
    .option('--review-by <when>', 'when the owner should confirm it is still needed: a date, a date-time, or "none"')
    .action(async (id: string, o: { name?: string; owner?: string; description?: string; expires?: string; reviewBy?: string }) =>
      output(
        await client().patch(`/agents/${enc(id)}`, {
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.owner !== undefined ? { owner: o.owner } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o.expires !== undefined ? { expiresAt: instant(o.expires) } : {}),
          ...(o.reviewBy !== undefined ? { reviewBy: instant(o.reviewBy) } : {}),
        }),
        true,
      ),
    );
  agents
    .command('review')
    .description('what is due: registrations ended or ending, reviews due, owners offboarded, agents never or long unused')
    .option('--within <days>', 'ends and reviews due within this many days (default: agents.reviewWithinDays)')
    .option('--unused <days>', 'not used for this many days (default: agents.unusedDays)')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: { within?: string; unused?: string; json?: boolean }) => {
      const q = new URLSearchParams({
        ...(o.within !== undefined ? { within: o.within } : {}),
        ...(o.unused !== undefined ? { unused: o.unused } : {}),
      });
      const due = await client().get<ReviewItemView[]>(`/agents/review${q.size > 0 ? `?${q}` : ''}`);
      if (o.json === true) return output(due, true);
      if (due.length === 0) return console.log('nothing is due');
      for (const d of due) console.log(`${d.agent}\t${d.owner}\t${d.status}\t${d.reasons.join(', ')}`);
    });
}

interface CreateOptions {
  name: string;
  owner: string;
  jwks?: string;
  workload: string[];
  kind: string;
  description: string;
  expires?: string;
  reviewBy?: string;
}

interface ReviewItemView {
  agent: string;
  owner: string;
  status: string;
  reasons: string[];
}

/** A date or date-time as typed (`2027-03-01`, `2027-03-01T09:00:00Z`), or "none" to remove it. */
function instant(v: string): string | null {
  return v === 'none' ? null : v;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseBinding(value: string): { issuer: string; subject: string } {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new Error(`--workload wants <issuer>=<subject pattern>, got ${value}`);
  return { issuer: value.slice(0, eq), subject: value.slice(eq + 1) };
}

interface SpawnNodeView {
  task: string;
  agent: string;
  user: string;
  purpose: string;
  status: string;
  spawned: SpawnNodeView[];
  spawned_by?: { task: string; agent: string };
}
interface SpawnTreeView {
  agent: string;
  tasks: SpawnNodeView[];
  truncated: boolean;
}

/** One line per task, indented by delegation depth: agent, user, status, purpose. */
function printSpawnTree(tree: SpawnTreeView): void {
  const line = (n: SpawnNodeView, depth: number): void => {
    const from = n.spawned_by !== undefined ? ` (spawned by ${n.spawned_by.agent} in ${n.spawned_by.task})` : '';
    console.log(`${'  '.repeat(depth)}${depth === 0 ? '' : '└ '}${n.agent} for ${n.user} — ${n.task} [${n.status}] ${n.purpose}${from}`);
    for (const c of n.spawned) line(c, depth + 1);
  };
  if (tree.tasks.length === 0) console.log(`${tree.agent} has no tasks`);
  for (const t of tree.tasks) line(t, 0);
  if (tree.truncated) console.log('(truncated: more tasks exist; raise --limit)');
}
