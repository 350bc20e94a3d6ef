/**
 * Issuance-time policy: Cedar decides each requested (method, path pattern) on its own. The token holds only what
 * was both requested and granted; when nothing is granted, nothing is issued. Evaluation errors deny.
 */
import type { AuthorizationDetail, HttpAuthorizationDetail } from '@writ/protocol';
import { OAuthError } from '../../errors/index.js';
import type { Agent, Resource } from '../../register/index.js';
import { httpRequest, type PolicyEngine } from '../../policy/index.js';
import { atomsOf, detailsFromAtoms, type HttpAtom } from './parse-authorization-details.js';
import type { VerifiedUser } from '../../identity/index.js';

export interface IssuanceDecision {
  granted: AuthorizationDetail[];
  denied: HttpAtom[];
  /** Grant ids behind each permitted atom, for the audit trail. */
  reasons: string[];
}

export async function evaluateIssuancePolicy(
  input: {
    agent: Agent;
    user: VerifiedUser;
    resource: Resource;
    resourceUri: string;
    requested: HttpAuthorizationDetail[];
    purpose: string;
    depth: number;
  },
  engine: PolicyEngine,
): Promise<IssuanceDecision> {
  const atoms = atomsOf(input.requested);
  const requests = atoms.map((a) =>
    httpRequest({
      agent: { id: input.agent.id, name: input.agent.name, owner: input.agent.owner, kind: input.agent.kind, status: input.agent.status },
      user: {
        idp: input.user.providerId,
        sub: input.user.sub,
        ...(typeof input.user.claims['email'] === 'string' ? { email: input.user.claims['email'] } : {}),
      },
      resource: { id: input.resource.id, kind: input.resource.kind, name: input.resource.id },
      method: a.method,
      path: a.path,
      purpose: input.purpose,
      depth: input.depth,
    }),
  );
  const decisions = await engine.authorize(requests);
  const granted: HttpAtom[] = [];
  const denied: HttpAtom[] = [];
  const reasons = new Set<string>();
  atoms.forEach((a, i) => {
    const d = decisions[i];
    if (d?.decision === 'allow') {
      granted.push(a);
      for (const r of d.reasons) reasons.add(r);
    } else denied.push(a);
  });
  if (granted.length === 0) {
    throw new OAuthError('invalid_authorization_details', 'no grant permits the requested authorization details', {
      detail: `denied: ${denied.map((a) => `${a.method} ${a.path}`).join(', ')}`,
    });
  }
  return { granted: detailsFromAtoms(granted, input.resourceUri), denied, reasons: [...reasons] };
}
