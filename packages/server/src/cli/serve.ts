/** `writ serve`: production start from writ.yaml and the environment. */
import { loadConfig } from '../config/index.js';
import { createLogger } from '../observability/index.js';
import { startWritServer } from '../server/index.js';

export async function runServe(opts: { config?: string; port?: number; role?: string }): Promise<void> {
  const config = loadConfig({ file: opts.config, overrides: { 'server.port': opts.port, 'cluster.role': opts.role } });
  const logger = createLogger({ level: config.log.level });
  const server = await startWritServer({ config, logger });
  // A gateway node has no admin API: the bootstrap token belongs to the control plane.
  if (server.role !== 'gateway' && config.adminToken === undefined && (await server.adminAuth.count()) === 0) {
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
}
