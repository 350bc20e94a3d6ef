/** Structured JSON logs (pino). Secrets never reach a log: known secret-bearing fields are redacted at the source. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level: string; name?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: opts.level,
      name: opts.name ?? 'writ',
      base: { pid: process.pid },
      redact: {
        paths: [
          '*.authorization',
          '*.Authorization',
          '*.dpop',
          '*.token',
          '*.secret',
          '*.value',
          '*.client_assertion',
          '*.subject_token',
          'headers.authorization',
          'headers.dpop',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? process.stdout,
  );
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
