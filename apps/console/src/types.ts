/** The admin API's answers as the console reads them: the wire types in @writ/protocol, under the console's names. */
export type {
  AdminAgent as Agent,
  AdminApproval as Approval,
  AdminAuditEntry as AuditEntry,
  AdminGrant as Grant,
  AdminObserveReport as ObserveReport,
  AdminOverview as Overview,
  AdminResource as Resource,
  AdminSecret as Secret,
  AdminSpawnNode as SpawnNode,
  AdminTask as Task,
  AdminTaskChain as TaskChain,
} from '@writ/protocol';
