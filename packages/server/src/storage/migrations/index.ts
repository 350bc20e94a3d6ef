/** Versioned migrations, applied in order at start. Never edit one that has shipped; add the next. */
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-resource-kind-and-scopes.js';
import * as m0003 from './0003-workload-identity-and-shared-replay.js';
import * as m0004 from './0004-mcp-upstreams.js';
import * as m0005 from './0005-ssf.js';
import * as m0006 from './0006-revocation-indexes.js';
import * as m0007 from './0007-one-active-signing-key.js';
import * as m0008 from './0008-authorization-server.js';
import * as m0009 from './0009-audit-checkpoints.js';
import * as m0010 from './0010-audit-sink-cursors.js';
import * as m0011 from './0011-audit-journal.js';
import * as m0012 from './0012-audit-journal-owner.js';
import * as m0013 from './0013-secret-kinds.js';
import * as m0014 from './0014-upstream-connections.js';
import * as m0015 from './0015-agent-lifecycle.js';
import * as m0016 from './0016-approvals.js';
import * as m0017 from './0017-grant-mode.js';
import * as m0018 from './0018-budget-counters.js';
import * as m0019 from './0019-tool-schemas.js';
import * as m0020 from './0020-console.js';
import * as m0021 from './0021-cluster-nodes.js';
import * as m0022 from './0022-login-binding.js';
import * as m0023 from './0023-one-pending-approval.js';
import * as m0024 from './0024-sealed-approval-arguments.js';

export interface WritMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

export const MIGRATIONS: Readonly<Record<string, WritMigration>> = {
  '0001-initial': m0001,
  '0002-resource-kind-and-scopes': m0002,
  '0003-workload-identity-and-shared-replay': m0003,
  '0004-mcp-upstreams': m0004,
  '0005-ssf': m0005,
  '0006-revocation-indexes': m0006,
  '0007-one-active-signing-key': m0007,
  '0008-authorization-server': m0008,
  '0009-audit-checkpoints': m0009,
  '0010-audit-sink-cursors': m0010,
  '0011-audit-journal': m0011,
  '0012-audit-journal-owner': m0012,
  '0013-secret-kinds': m0013,
  '0014-upstream-connections': m0014,
  '0015-agent-lifecycle': m0015,
  '0016-approvals': m0016,
  '0017-grant-mode': m0017,
  '0018-budget-counters': m0018,
  '0019-tool-schemas': m0019,
  '0020-console': m0020,
  '0021-cluster-nodes': m0021,
  '0022-login-binding': m0022,
  '0023-one-pending-approval': m0023,
  '0024-sealed-approval-arguments': m0024,
};
