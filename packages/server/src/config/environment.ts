/**
 * The process environment, read here and nowhere else in the server: configuration (load-config.ts), the CLI's
 * client settings, the environment `writ dev` runs in, and the PATH and HOME the processes Writ supervises inherit.
 */
import { DEFAULT_PORT } from '@writ/protocol';

export type Environment = Readonly<Record<string, string | undefined>>;

export function processEnvironment(): Environment {
  return process.env;
}

/** Where the `writ` CLI finds Writ's admin API, and with which token. */
export function adminClientSettings(env: Environment = processEnvironment()): { url: string; token: string | undefined } {
  const token = env['WRIT_ADMIN_TOKEN'];
  return {
    url: env['WRIT_URL'] ?? `http://127.0.0.1:${env['WRIT_PORT'] ?? DEFAULT_PORT}`,
    token: token === undefined || token === '' ? undefined : token,
  };
}
