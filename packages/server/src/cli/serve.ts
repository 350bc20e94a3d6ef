/**
 * `writ serve`: production start from writ.yaml and the environment. With `--workers N` (N > 1) this process is the
 * primary of N event loops on the one port (workers/primary.ts) and each worker runs this same command.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { loadConfig, processEnvironment, type WritConfig } from '../config/index.js';
import { createLogger } from '../observability/index.js';
import { startWritServer } from '../server/index.js';
import { SiblingBus, startPrimary, WORKER_COUNT_ENV, WORKER_FIRST_ENV, WORKER_SLOT_ENV } from '../workers/index.js';

export interface ServeOptions {
  config?: string;
  port?: number;
  role?: string;
  workers?: number | 'auto';
}

export async function runServe(opts: ServeOptions): Promise<void> {
  const config = loadConfig({
    file: opts.config,
    overrides: { 'server.port': opts.port, 'cluster.role': opts.role, 'server.workers': opts.workers },
  });
  const logger = createLogger({ level: config.log.level });
  const workers = workerCount(config);
  if (cluster.isPrimary && workers > 1) {
    const primary = startPrimary({
      workers,
      replayCacheSize: config.dpop.replayCacheSize,
      ackTimeoutMs: config.server.workerAckTimeoutMs,
      logger,
    });
    const stop = (): void => {
      logger.info('shutting down');
      void primary.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const url = await primary.ready.catch((err: unknown) => {
      logger.error({ err }, 'writ did not start');
      process.exit(1);
    });
    logger.info({ url, workers }, 'writ serving on every worker');
    return;
  }
  const siblings = cluster.isWorker ? workerBus() : undefined;
  const server = await startWritServer({ config, logger, ...(siblings !== undefined ? { siblings } : {}) });
  // A gateway node has no admin API: the bootstrap token belongs to the control plane (and, with workers, to the first).
  if (server.role !== 'gateway' && siblings?.first !== false && config.adminToken === undefined && (await server.adminAuth.count()) === 0) {
    const { token } = await server.adminAuth.create('bootstrap');
    // Printed once, to the terminal only: it is stored hashed and cannot be shown again.
    process.stderr.write(`\nNo admin token existed, so one was created. Store it now; it will not be shown again:\n  ${token}\n\n`);
  }
  const stop = (): void => {
    logger.info('shutting down');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  siblings?.ready(server.url, server.relayPort ?? 0);
}

/** `auto`: one per core available. Workers share the store, so an in-memory SQLite database (one per process) runs one. */
function workerCount(config: WritConfig): number {
  const asked = config.server.workers;
  if (config.storage.databaseUrl === undefined && config.storage.sqlitePath === ':memory:') return 1;
  return asked === 'auto' ? availableParallelism() : asked;
}

/** A worker's channel to the primary; when the primary is gone nobody relays revocations here, so the worker stops. */
function workerBus(): SiblingBus {
  const env = processEnvironment();
  const slot = Number(env[WORKER_SLOT_ENV]);
  const workers = Number(env[WORKER_COUNT_ENV]);
  if (!Number.isSafeInteger(slot) || slot < 1 || !Number.isSafeInteger(workers) || workers < slot)
    throw new Error(`${WORKER_SLOT_ENV} and ${WORKER_COUNT_ENV} must name the worker's slot and the number of workers`);
  process.once('disconnect', () => process.exit(1));
  return new SiblingBus(
    {
      send: (m) => process.send?.(m),
      onMessage: (listener) => process.on('message', listener),
    },
    { slot, workers, first: env[WORKER_FIRST_ENV] === '1' },
  );
}
