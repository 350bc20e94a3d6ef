#!/usr/bin/env node
/**
 * `writ` — the command line: parses argv against the command tree (program.ts) and turns a failure into a message
 * on stderr and exit code 1.
 */
import { AdminClientError } from '../admin-client/index.js';
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof AdminClientError) {
      console.error(`writ: ${err.code}: ${err.message}`);
      for (const d of err.details) console.error(`  - ${d}`);
    } else if ((err as { name?: string }).name === 'ConfigError') {
      console.error(`writ: ${(err as Error).message}`);
    } else {
      console.error(`writ: ${(err as Error)?.message ?? String(err)}`);
    }
    process.exit(1);
  });
