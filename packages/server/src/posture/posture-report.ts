/**
 * The posture report: what in this deployment a security team would fix first, read from Writ's own state — the
 * register, the tasks, the vault's metadata, the admin tokens, the audit log of a recent window and this node's
 * revocation freshness. Each finding names the item, why it matters, how to fix it, and where it sits in the OWASP
 * Top 10 for Non-Human Identities (2025), the OWASP Top 10 for Agentic Applications (2026) and NIST CSF 2.0 PR.AA.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.js';
import { queryAudit } from '../audit/index.js';
import type { Agent, Grant, Resource, ReviewItem } from '../register/index.js';

export type Severity = 'high' | 'medium' | 'low';

export interface Finding {
  /** Stable code: what kind of finding (`agent.no_owner`, `grant.unused` …). */
  code: string;
  severity: Severity;
  item: { kind: 'agent' | 'grant' | 'resource' | 'task' | 'secret' | 'admin_token' | 'node'; id: string };
  why: string;
  fix: string;
  mappings: { owaspNhi: string[]; owaspAgentic: string[]; nistCsf: string[] };
}

export interface PostureReport {
  generatedAt: number;
  /** The audit window the usage findings read: `[since, generatedAt)`. */
  since: number;
  summary: Record<Severity, number>;
  findings: Finding[];
}

export interface PostureSources {
  db: Kysely<Database>;
  now: () => number;
  agents(): Promise<Agent[]>;
  grants(): Promise<Grant[]>;
  resources(): Promise<Resource[]>;
  /** What the register's lifecycle says is due (agent-lifecycle.ts `review`). */
  review(o: { withinMs: number; unusedMs: number }): Promise<ReviewItem[]>;
  /** This node's revocation state: current, or how far behind. */
  freshness(): { current: boolean; lagMs: number | null } | null;
  /** A fixed admin token is configured (WRIT_ADMIN_TOKEN): it cannot be rotated without a restart. */
  fixedAdminToken: boolean;
  /** Owners recorded for agents nobody assigned (self-registered clients' `authorization.registration.owner`). */
  placeholderOwners: readonly string[];
}

export interface PostureOptions {
  /** The usage window, ms (grants unused over it). */
  windowMs: number;
  reviewWithinMs: number;
  unusedMs: number;
  /** A task older than this and still active is long-lived. */
  taskMaxAgeMs: number;
  /** Secrets and admin tokens older than this are due for rotation. */
  rotateAfterMs: number;
}

const NHI = {
  offboarding: 'NHI1:2025 Improper Offboarding',
  leakage: 'NHI2:2025 Secret Leakage',
  authentication: 'NHI4:2025 Insecure Authentication',
  overprivileged: 'NHI5:2025 Overprivileged NHI',
  longLived: 'NHI7:2025 Long-Lived Secrets',
  humanUse: 'NHI10:2025 Human Use of NHI',
} as const;
const ASI = {
  toolMisuse: 'ASI02 Tool Misuse and Exploitation',
  privilegeAbuse: 'ASI03 Identity and Privilege Abuse',
  cascading: 'ASI08 Cascading Failures',
  rogue: 'ASI10 Rogue Agents',
} as const;
const PR_AA = {
  identities: 'PR.AA-01',
  authenticated: 'PR.AA-03',
  assertions: 'PR.AA-04',
  leastPrivilege: 'PR.AA-05',
} as const;

const DAY = 86_400_000;
const days = (ms: number): number => Math.floor(ms / DAY);
/** Calls read from the window for grant usage; past it the report says so in the finding's reason. */
const MAX_CALLS_READ = 200_000;

export async function buildPostureReport(src: PostureSources, o: PostureOptions): Promise<PostureReport> {
  const now = src.now();
  const since = now - o.windowMs;
  const findings: Finding[] = [];
  const add = (f: Finding): void => void findings.push(f);

  // Agents: ownership and lifecycle.
  const agents = await src.agents();
  for (const a of agents) {
    if (a.status === 'offboarded') continue;
    if (a.owner.trim() === '' || src.placeholderOwners.includes(a.owner))
      add({
        code: 'agent.no_owner',
        severity: 'high',
        item: { kind: 'agent', id: a.id },
        why: `No one answers for ${a.id} (owner "${a.owner}"): nobody reviews it, and nobody's departure ends it.`,
        fix: `writ agents update ${a.id} --owner <team or provider:subject>`,
        mappings: { owaspNhi: [NHI.offboarding], owaspAgentic: [ASI.rogue], nistCsf: [PR_AA.identities] },
      });
  }
  for (const d of await src.review({ withinMs: o.reviewWithinMs, unusedMs: o.unusedMs })) {
    for (const reason of d.reasons) add(lifecycleFinding(d, reason, now));
  }

  // Grants: which were used by calls in the window, and by which agents.
  const grants = (await src.grants()).filter((g) => g.enabled && g.mode === 'enforce');
  const usedBy = new Map<string, Set<string>>();
  let read = 0;
  let afterSeq: number | undefined;
  for (;;) {
    const page = await queryAudit(src.db, {
      type: 'call.allowed',
      since,
      until: now,
      limit: 10_000,
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    for (const e of page) {
      const policies = Array.isArray(e.data?.['grants']) ? (e.data['grants'] as unknown[]) : [];
      for (const p of policies) {
        const grant = String(p).split('.')[0] ?? '';
        let agentsOf = usedBy.get(grant);
        if (agentsOf === undefined) usedBy.set(grant, (agentsOf = new Set()));
        if (e.agent_id !== undefined) agentsOf.add(e.agent_id);
      }
    }
    read += page.length;
    const last = page.at(-1);
    if (page.length < 10_000 || last === undefined || read >= MAX_CALLS_READ) break;
    afterSeq = last.seq;
  }
  for (const g of grants) {
    const users = usedBy.get(g.id);
    if (users === undefined && g.createdAt < since)
      add({
        code: 'grant.unused',
        severity: 'medium',
        item: { kind: 'grant', id: g.id },
        why: `No call used ${g.id} in the last ${days(o.windowMs)} days${read >= MAX_CALLS_READ ? ' (of the calls read)' : ''}: it grants what nobody needs.`,
        fix: `writ grants delete ${g.id} (or deploy it to observe: writ grants mode ${g.id} observe)`,
        mappings: { owaspNhi: [NHI.overprivileged], owaspAgentic: [ASI.privilegeAbuse], nistCsf: [PR_AA.leastPrivilege] },
      });
    else if (users !== undefined && /permit\s*\(\s*principal\s*,/.test(g.policy) && users.size <= 1)
      add({
        code: 'grant.broader_than_use',
        severity: 'low',
        item: { kind: 'grant', id: g.id },
        why: `${g.id} permits any agent, but only ${[...users].join(', ') || 'no agent'} used it in the last ${days(o.windowMs)} days.`,
        fix: `Name the principal: permit (principal == Writ::Agent::"${[...users][0] ?? '<agent>'}", …)`,
        mappings: { owaspNhi: [NHI.overprivileged], owaspAgentic: [ASI.privilegeAbuse], nistCsf: [PR_AA.leastPrivilege] },
      });
  }

  // Resources that accept bearer task tokens: a stolen token works from anywhere.
  for (const r of await src.resources())
    if (r.mcp?.bearer.allowed === true)
      add({
        code: 'resource.accepts_bearer',
        severity: 'medium',
        item: { kind: 'resource', id: r.id },
        why: `${r.id} accepts bearer task tokens (no DPoP): whoever holds one can use it until it expires (at most ${r.mcp.bearer.maxLifetimeSeconds} s).`,
        fix: `Register ${r.id} again with mcp.bearer.allowed: false once its clients can sign DPoP proofs`,
        mappings: { owaspNhi: [NHI.authentication, NHI.leakage], owaspAgentic: [ASI.privilegeAbuse], nistCsf: [PR_AA.assertions] },
      });

  // Tasks that stay active for long.
  const oldTasks = await src.db
    .selectFrom('tasks')
    .select(['id', 'agent_id', 'created_at'])
    .where('status', '=', 'active')
    .where('created_at', '<', now - o.taskMaxAgeMs)
    .where('expires_at', '>', now)
    .orderBy('created_at')
    .limit(500)
    .execute();
  for (const t of oldTasks)
    add({
      code: 'task.long_lived',
      severity: 'low',
      item: { kind: 'task', id: t.id },
      why: `Task ${t.id} of ${t.agent_id} has been active for ${Math.round((now - t.created_at) / 3_600_000)} hours: the longer a task lives, the longer what it holds can be misused.`,
      fix: `writ tasks revoke ${t.id} --reason "long-lived" (or have the agent complete it), and shorten tokens.maxLifetimeSeconds`,
      mappings: { owaspNhi: [NHI.longLived], owaspAgentic: [ASI.rogue], nistCsf: [PR_AA.leastPrivilege] },
    });

  // Secrets and admin tokens that were not rotated.
  const secrets = await src.db
    .selectFrom('secrets')
    .select(['id', 'updated_at'])
    .where('updated_at', '<', now - o.rotateAfterMs)
    .execute();
  for (const s of secrets)
    add({
      code: 'secret.not_rotated',
      severity: 'medium',
      item: { kind: 'secret', id: s.id },
      why: `Secret ${s.id} has had the same value for ${days(now - s.updated_at)} days.`,
      fix: `Rotate it at the upstream, then: writ secrets put ${s.id}`,
      mappings: { owaspNhi: [NHI.longLived], owaspAgentic: [], nistCsf: [PR_AA.identities] },
    });
  const adminTokens = await src.db
    .selectFrom('admin_tokens')
    .select(['id', 'name', 'created_at'])
    .where('revoked_at', 'is', null)
    .where('created_at', '<', now - o.rotateAfterMs)
    .execute();
  for (const t of adminTokens)
    add({
      code: 'admin_token.old',
      severity: 'medium',
      item: { kind: 'admin_token', id: t.id },
      why: `Admin token "${t.name}" is ${days(now - t.created_at)} days old: an operator's credential that can change anything.`,
      fix: 'Issue a new admin token and revoke this one',
      mappings: { owaspNhi: [NHI.longLived, NHI.humanUse], owaspAgentic: [], nistCsf: [PR_AA.identities, PR_AA.authenticated] },
    });
  if (src.fixedAdminToken)
    add({
      code: 'admin_token.fixed',
      severity: 'low',
      item: { kind: 'admin_token', id: 'WRIT_ADMIN_TOKEN' },
      why: 'A fixed admin token is configured: it has no age Writ can see, and it is rotated only by a restart.',
      fix: 'Unset WRIT_ADMIN_TOKEN once stored admin tokens are in use',
      mappings: { owaspNhi: [NHI.longLived], owaspAgentic: [], nistCsf: [PR_AA.identities] },
    });

  // This node's revocation state.
  const f = src.freshness();
  if (f !== null && !f.current)
    add({
      code: 'node.revocation_stale',
      severity: 'high',
      item: { kind: 'node', id: 'this node' },
      why: `This node's revocation state is not current${f.lagMs !== null ? ` (${f.lagMs} ms behind)` : ''}: a revoked agent or task could still be let through (the gateway refuses calls past its bound).`,
      fix: "Check the node's connection to PostgreSQL and its /readyz",
      mappings: { owaspNhi: [NHI.offboarding], owaspAgentic: [ASI.cascading], nistCsf: [PR_AA.leastPrivilege] },
    });

  const order: Record<Severity, number> = { high: 0, medium: 1, low: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity] || a.code.localeCompare(b.code) || a.item.id.localeCompare(b.item.id));
  return {
    generatedAt: now,
    since,
    summary: {
      high: findings.filter((x) => x.severity === 'high').length,
      medium: findings.filter((x) => x.severity === 'medium').length,
      low: findings.filter((x) => x.severity === 'low').length,
    },
    findings,
  };
}

function lifecycleFinding(d: ReviewItem, reason: ReviewItem['reasons'][number], now: number): Finding {
  const item = { kind: 'agent' as const, id: d.agent };
  const offboarding = { owaspNhi: [NHI.offboarding], owaspAgentic: [ASI.rogue], nistCsf: [PR_AA.identities] };
  switch (reason) {
    case 'expired':
      return {
        code: 'agent.expired',
        severity: d.status === 'active' ? 'medium' : 'low',
        item,
        why: `${d.agent}'s registration ended${d.expiresAt !== null ? ` ${days(now - d.expiresAt)} days ago` : ''}; it is refused, but still registered.`,
        fix: `writ agents offboard ${d.agent}, or writ agents update ${d.agent} --expires <date>`,
        mappings: offboarding,
      };
    case 'expiring':
      return {
        code: 'agent.expiring',
        severity: 'low',
        item,
        why: `${d.agent}'s registration ends on ${new Date(d.expiresAt ?? now).toISOString().slice(0, 10)}.`,
        fix: `Confirm with ${d.owner}: writ agents update ${d.agent} --expires <later date>, or let it end`,
        mappings: offboarding,
      };
    case 'review_due':
      return {
        code: 'agent.review_due',
        severity: 'low',
        item,
        why: `${d.agent} is due for its owner's review${d.reviewBy !== null ? ` (${new Date(d.reviewBy).toISOString().slice(0, 10)})` : ''}.`,
        fix: `${d.owner} confirms it is needed: writ agents update ${d.agent} --review-by <next date>`,
        mappings: { ...offboarding, nistCsf: [PR_AA.identities, PR_AA.leastPrivilege] },
      };
    case 'owner_offboarded':
      return {
        code: 'agent.owner_offboarded',
        severity: 'high',
        item,
        why: `${d.agent}'s owner ${d.owner} was offboarded; it is ${d.status}.`,
        fix: `writ agents update ${d.agent} --owner <new owner>, or writ agents offboard ${d.agent}`,
        mappings: offboarding,
      };
    case 'never_used':
      return {
        code: 'agent.never_used',
        severity: 'medium',
        item,
        why: `${d.agent} has never obtained a token or made a call: a credential nobody uses is one nobody watches.`,
        fix: `writ agents offboard ${d.agent}`,
        mappings: { owaspNhi: [NHI.offboarding, NHI.overprivileged], owaspAgentic: [ASI.rogue], nistCsf: [PR_AA.identities] },
      };
    case 'unused':
      return {
        code: 'agent.unused',
        severity: 'medium',
        item,
        why: `${d.agent} last acted ${d.lastUsedAt !== null ? `${days(now - d.lastUsedAt)} days ago` : 'long ago'}.`,
        fix: `writ agents suspend ${d.agent} (or offboard it)`,
        mappings: { owaspNhi: [NHI.offboarding], owaspAgentic: [ASI.rogue], nistCsf: [PR_AA.identities] },
      };
  }
}
