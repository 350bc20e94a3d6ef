/**
 * `writ audit verify` with evidence kept outside the database: exported checkpoints (their signatures checked here,
 * against Writ's JWKS or a saved copy of it) and, optionally, an exported log (the chain checked here too, without
 * asking the server anything). With the log file, nothing the server says is trusted.
 */
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { exportedLog, verifyAuditLog, verifyCheckpoint, type AuditChainResult, type AuditLogRow } from '../audit/index.js';

export interface VerifiedCheckpoints {
  anchors: Array<{ seq: number; hash: string }>;
  /** The newest checkpoint: what the chain must still reach. */
  latest: { seq: number; time: number } | undefined;
}

/** One JSON value per line; blank lines skipped; a line that is not JSON names its number. */
export function readJsonLines(file: string): unknown[] {
  const out: unknown[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new Error(`${file}:${i + 1}: not JSON`);
      }
    });
  return out;
}

/** Every checkpoint line must carry a `jws` that verifies; any that does not fails the whole verification. */
export async function verifyCheckpointFile(file: string, jwks: JSONWebKeySet, issuer: string | undefined): Promise<VerifiedCheckpoints> {
  const anchors: VerifiedCheckpoints['anchors'] = [];
  let latest: VerifiedCheckpoints['latest'];
  for (const [i, line] of readJsonLines(file).entries()) {
    const jws = (line as { jws?: unknown } | null)?.jws;
    if (typeof jws !== 'string') throw new Error(`${file}: checkpoint ${i + 1} has no jws`);
    let c;
    try {
      c = await verifyCheckpoint(jws, jwks, issuer);
    } catch (err) {
      throw new Error(`${file}: checkpoint ${i + 1}: ${(err as Error).message}`);
    }
    anchors.push({ seq: c.seq, hash: c.hash });
    if (latest === undefined || c.seq > latest.seq) latest = { seq: c.seq, time: c.time };
  }
  return { anchors, latest };
}

/** The chain of an exported log (`writ audit export --format jsonl`), checked here, against the anchors. */
export function verifyLogFile(file: string, anchors: VerifiedCheckpoints['anchors']): Promise<AuditChainResult> {
  return verifyAuditLog(exportedLog(readJsonLines(file) as AuditLogRow[]), { anchors });
}
