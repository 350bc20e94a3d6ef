/**
 * Where new audit checkpoints go besides the database, so that whoever holds them can detect a cut tail or rewritten
 * history even if the database and the node are in someone else's hands: a file (append one JSON line each; put it
 * on storage the database's operator cannot rewrite), and an HTTP endpoint (POST as JSON, through the egress guard,
 * retried with backoff). A push that fails for good is logged; the checkpoint stays in the database and in
 * `writ audit checkpoints`.
 */
import { appendFile } from 'node:fs/promises';
import type { AuditCheckpoint } from '../audit/index.js';
import type { Logger } from '../observability/index.js';
import { postWithRetry } from './post-with-retry.js';

export interface CheckpointSinks {
  file?: string | undefined;
  webhookUrl?: string | undefined;
}

const ATTEMPTS = 6;
const FIRST_RETRY_MS = 500;

export function checkpointPublisher(
  sinks: CheckpointSinks,
  deps: { fetch: typeof fetch; logger: Logger },
): (checkpoint: AuditCheckpoint) => Promise<void> {
  // One file write at a time, in order: lines never interleave.
  let fileQueue: Promise<void> = Promise.resolve();
  return async (c) => {
    const line = JSON.stringify({ seq: c.seq, hash: c.hash, time: c.time, kid: c.kid, jws: c.jws });
    const pushes: Array<Promise<void>> = [];
    if (sinks.file !== undefined) {
      const file = sinks.file;
      fileQueue = fileQueue.then(() =>
        appendFile(file, `${line}\n`, { mode: 0o600 }).catch((err: unknown) =>
          deps.logger.error({ err, seq: c.seq, file }, 'audit checkpoint not written to its file'),
        ),
      );
      pushes.push(fileQueue);
    }
    if (sinks.webhookUrl !== undefined) pushes.push(post(sinks.webhookUrl, line, c.seq, deps));
    await Promise.all(pushes);
  };
}

async function post(url: string, body: string, seq: number, deps: { fetch: typeof fetch; logger: Logger }): Promise<void> {
  const r = await postWithRetry(deps.fetch, url, body, {
    contentType: 'application/json',
    attempts: ATTEMPTS,
    firstDelayMs: FIRST_RETRY_MS,
  });
  if (!r.ok) deps.logger.error({ seq, url, why: r.why, attempts: r.attempts }, 'audit checkpoint not delivered to its endpoint');
}
