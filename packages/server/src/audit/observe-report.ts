/**
 * The observe-mode report: what the observed grants would have done on the traffic recorded, per grant, resource and
 * action — read from the `policy.observed` records (gateway/observed-decisions.ts), never from a second source.
 */
import type { Kysely } from 'kysely';
import type { AdminObserveReport, AdminObserveReportRow } from '@writ/protocol';
import type { Database } from '../storage/index.js';
import { queryAudit } from './query-audit.js';

/** The report is what the admin API sends as it is: its type is the wire type. */
export type ObserveReport = AdminObserveReport;
export type ObserveReportRow = AdminObserveReportRow;

const PAGE = 10_000;
const MAX_RECORDS = 200_000;

/** `observedGrants`: ids of the grants in observe mode now; a difference is attributed to those among its policies. */
export async function observeReport(
  db: Kysely<Database>,
  o: { since: number; until: number; observedGrants: ReadonlySet<string> },
): Promise<ObserveReport> {
  const rows = new Map<string, ObserveReportRow>();
  let records = 0;
  let afterSeq: number | undefined;
  let truncated = false;
  for (;;) {
    const page = await queryAudit(db, {
      type: 'policy.observed',
      since: o.since,
      until: o.until,
      limit: PAGE,
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    for (const e of page) {
      records++;
      const policies = Array.isArray(e.data?.['observed_policies']) ? (e.data['observed_policies'] as unknown[]) : [];
      // Policy ids are `<grant id>.<n>`; grant ids never contain a dot.
      const grants = new Set(policies.map((p) => String(p).split('.')[0] ?? '').filter((g) => o.observedGrants.has(g)));
      if (grants.size === 0) grants.add('(no longer observed)');
      for (const grant of grants) {
        const key = `${grant}\u0000${e.resource ?? ''}\u0000${e.action ?? ''}`;
        const row = rows.get(key) ?? {
          grant,
          resource: e.resource ?? '',
          action: e.action ?? '',
          wouldAllow: 0,
          wouldDeny: 0,
          lastSeen: 0,
        };
        if (e.reason === 'would_allow') row.wouldAllow++;
        else row.wouldDeny++;
        row.lastSeen = Math.max(row.lastSeen, e.time);
        rows.set(key, row);
      }
    }
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) break;
    if (records >= MAX_RECORDS) {
      truncated = true;
      break;
    }
    afterSeq = last.seq;
  }
  return {
    since: o.since,
    until: o.until,
    records,
    truncated,
    rows: [...rows.values()].sort((a, b) => a.grant.localeCompare(b.grant) || b.wouldAllow + b.wouldDeny - (a.wouldAllow + a.wouldDeny)),
  };
}
