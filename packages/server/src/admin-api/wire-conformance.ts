/**
 * The admin API's answers against their wire types in @writ/protocol, which the operator console reads: each view the
 * server sends must be assignable to its wire type, or this module does not compile. Types only; nothing runs.
 */
import type {
  AdminAgent,
  AdminApproval,
  AdminAuditEntry,
  AdminGrant,
  AdminResource,
  AdminSecret,
  AdminSpawnNode,
  AdminTask,
  AdminTaskChain,
} from '@writ/protocol';
import type { ApprovalView } from '../approvals/index.js';
import type { AuditEntry, TaskChain } from '../audit/index.js';
import type { Agent, Grant, Resource } from '../register/index.js';
import type { SpawnTree, Task } from '../tasks/index.js';
import type { SecretMetadata, SecretSummary } from '../vault/index.js';

/** `Sent`, checked to be assignable to `Wire`. */
type Conforms<Sent extends Wire, Wire> = Sent;

export type AdminWireConformance = [
  Conforms<Agent, AdminAgent>, // GET /agents, /agents/:id
  Conforms<Task, AdminTask>, // GET /tasks
  Conforms<SpawnTree['tasks'][number], AdminSpawnNode>, // GET /agents/:id/spawn-tree
  Conforms<AuditEntry, AdminAuditEntry>, // GET /audit
  Conforms<TaskChain, AdminTaskChain>, // GET /tasks/:id/audit
  Conforms<Grant, AdminGrant>, // GET /grants
  Conforms<Resource, AdminResource>, // GET /resources
  Conforms<SecretSummary, AdminSecret>, // GET /secrets
  Conforms<SecretMetadata, AdminSecret>, // PUT /secrets/:id
  Conforms<ApprovalView, AdminApproval>, // GET /approvals
];
