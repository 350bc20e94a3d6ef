/** Builders for the Writ Cedar requests, so every caller spells entities and context the same way. */
import type { CedarEntity, CedarRequest, CedarValue, EntityRef } from './types.js';

export interface AgentAttrs {
  id: string;
  name: string;
  owner: string;
  kind: string;
  status: string;
}
export interface ResourceAttrs {
  id: string;
  kind: string;
  name: string;
}
export interface UserAttrs {
  idp: string;
  sub: string;
  email?: string;
}

export function userUid(idp: string, sub: string): EntityRef {
  return { type: 'Writ::User', id: `${idp}:${sub}` };
}
export function agentUid(id: string): EntityRef {
  return { type: 'Writ::Agent', id };
}
export function resourceUid(id: string): EntityRef {
  return { type: 'Writ::Resource', id };
}

function entity(uid: EntityRef, attrs: Record<string, CedarValue>): CedarEntity {
  return { uid, attrs, parents: [] };
}

export function httpRequest(input: {
  agent: AgentAttrs;
  user: UserAttrs;
  resource: ResourceAttrs;
  method: string;
  path: string;
  purpose: string;
  depth: number;
}): CedarRequest {
  const user = userUid(input.user.idp, input.user.sub);
  return {
    principal: agentUid(input.agent.id),
    action: { type: 'Writ::Action', id: 'http' },
    resource: resourceUid(input.resource.id),
    context: { user: { __entity: user }, method: input.method, path: input.path, purpose: input.purpose, depth: input.depth },
    entities: [
      entity(agentUid(input.agent.id), {
        name: input.agent.name,
        owner: input.agent.owner,
        kind: input.agent.kind,
        status: input.agent.status,
      }),
      entity(resourceUid(input.resource.id), { kind: input.resource.kind, name: input.resource.name }),
      entity(user, { idp: input.user.idp, sub: input.user.sub, ...(input.user.email !== undefined ? { email: input.user.email } : {}) }),
    ],
  };
}
