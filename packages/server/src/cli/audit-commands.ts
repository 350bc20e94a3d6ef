/** `writ audit …`: query, chains, verification (against checkpoints, or offline from an export), checkpoints, export. */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { JSONWebKeySet } from 'jose';
import { printAuditChain } from '../admin-client/index.js';
import type { AuditChainResult } from '../audit/index.js';
import { adminClientSettings } from '../config/index.js';
import { verifyCheckpointFile, verifyLogFile, type VerifiedCheckpoints } from './audit-verification.js';
import { client, enc, fail, output, qs, time } from './cli-support.js';

export function addAuditCommands(program: Command, jsonOpt: Option): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('list')
    .description('query audit events by task, agent, user, trace, type and time')
    .option('--task <id>', 'only events of this task')
    .option('--agent <id>', 'only events of this agent')
    .option('--user <id>', 'only events of this user (idp:sub)')
    .option('--trace <id>', 'only events of this trace')
    .option('--type <type>', 'only events of this type')
    .option('--since <time>', 'ISO time or epoch ms')
    .option('--until <time>', 'ISO time or epoch ms')
    .option('--limit <n>', 'at most this many events', '100')
    .addOption(jsonOpt)
    .action(
      async (o: {
        task?: string;
        agent?: string;
        user?: string;
        trace?: string;
        type?: string;
        since?: string;
        until?: string;
        limit: string;
        json?: boolean;
      }) => {
        const events = await client().get(
          `/audit${qs({ task: o.task, agent: o.agent, user: o.user, trace: o.trace, type: o.type, since: time(o.since), until: time(o.until), limit: o.limit })}`,
        );
        output(events, o.json === true, ['seq', 'time', 'type', 'decision', 'reason', 'agent_id', 'task_id', 'action']);
      },
    );
  audit
    .command('verify')
    .description(
      'verify the hash chain; reports the first altered, inserted or removed event. With --checkpoints, also that the chain still holds every signed checkpoint (a cut tail or rewritten history fails); with --log, the chain of an export is checked here, without the server',
    )
    .option('--checkpoints <file>', 'exported checkpoints (`writ audit checkpoints`), one JSON line each')
    .option('--jwks <file>', "Writ's JWKS saved earlier (default: fetched from the server)")
    .option('--issuer <url>', 'the issuer every checkpoint must name')
    .option('--log <file>', 'an exported log (`writ audit export --format jsonl`): verified here')
    .action(async (o: { checkpoints?: string; jwks?: string; issuer?: string; log?: string }) => {
      let checkpoints: VerifiedCheckpoints = { anchors: [], latest: undefined };
      if (o.checkpoints !== undefined) {
        const jwks = o.jwks !== undefined ? (JSON.parse(readFileSync(o.jwks, 'utf8')) as JSONWebKeySet) : await fetchJwks();
        checkpoints = await verifyCheckpointFile(o.checkpoints, jwks, o.issuer).catch((err: unknown) => fail((err as Error).message));
      }
      const r =
        o.log !== undefined
          ? await verifyLogFile(o.log, checkpoints.anchors)
          : checkpoints.anchors.length > 0
            ? await client().post<AuditChainResult>('/audit/verify', { anchors: checkpoints.anchors })
            : await client().get<AuditChainResult>('/audit/verify');
      console.log(JSON.stringify({ ...r, checkpoints: checkpoints.anchors.length, latestCheckpoint: checkpoints.latest ?? null }, null, 2));
      if (!r.ok) process.exitCode = 2;
    });
  audit
    .command('checkpoint')
    .description('sign the current head of the chain now; prints the checkpoint as one JSON line')
    .action(async () => console.log(JSON.stringify(await client().post('/audit/checkpoints', {}))));
  audit
    .command('checkpoints')
    .description('export the signed checkpoints, oldest first, one JSON line each (keep them away from the database)')
    .option('--after <seq>', 'only checkpoints after this seq', '0')
    .action(async (o: { after: string }) => {
      await pages('/audit/checkpoints', Number(o.after), (c: { seq: number }) => c.seq);
    });
  audit
    .command('export')
    .description('export the stored log in seq order, one JSON line per event, as `writ audit verify --log` reads it')
    .addOption(
      new Option('--format <format>', 'jsonl: the stored rows (for `writ audit verify --log`); ocsf: OCSF 1.3.0 events, for a SIEM')
        .choices(['jsonl', 'ocsf'])
        .default('jsonl'),
    )
    .option('--after <seq>', 'only events after this seq', '0')
    .action(async (o: { after: string; format: 'jsonl' | 'ocsf' }) => {
      await pages(
        `/audit/export`,
        Number(o.after),
        (e: { seq?: number; metadata?: { sequence: number } }) => e.seq ?? e.metadata?.sequence ?? 0,
        {
          format: o.format,
        },
      );
    });
  audit
    .command('chain <taskId>')
    .description("print a task's chain: user → agent → calls, with decisions")
    .action(async (taskId: string) => printAuditChain(await client().get(`/tasks/${enc(taskId)}/audit`)));
}

/** Prints a paged admin collection as JSON lines, following `after_seq` until a short page. */
async function pages<T>(path: string, after: number, seqOf: (item: T) => number, extra: Record<string, string> = {}): Promise<void> {
  if (!Number.isSafeInteger(after) || after < 0) fail('--after: expected a non-negative integer');
  const limit = 1000;
  for (let next = after; ;) {
    const page = await client().get<T[]>(`${path}${qs({ ...extra, after_seq: String(next), limit: String(limit) })}`);
    for (const item of page) process.stdout.write(`${JSON.stringify(item)}\n`);
    if (page.length < limit) return;
    next = seqOf(page[page.length - 1] as T);
  }
}

async function fetchJwks(): Promise<JSONWebKeySet> {
  const { url } = adminClientSettings();
  const res = await fetch(new URL('/.well-known/jwks.json', url));
  if (!res.ok) fail(`fetching the JWKS from ${url}: status ${res.status}`);
  return (await res.json()) as JSONWebKeySet;
}
