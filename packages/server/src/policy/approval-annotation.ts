/**
 * `@approval` on a grant's `permit`: a call that such a policy permits is not forwarded until a person approves that
 * exact call. The annotation names who may approve: `user` (the person the task acts for), `owner` (the agent's
 * owner, by Writ user id), `group:<name>` (anyone whose identity-provider token lists the group in `groups`), `admin`
 * (an operator, with the admin API or CLI). `@approval` alone means `user`.
 *
 * A call that any `@approval` policy permits needs an approval, whatever else permits it too: an operator marks the
 * dangerous part of a broad grant without rewriting it. The approvers are those of every such policy together.
 *
 * @example
 * @approval("user, group:secops")
 * permit (principal, action == Writ::Action::"mcp_tool", resource == Writ::Resource::"github")
 * when { context.tool like "delete*" };
 */
export const APPROVAL_ANNOTATION = 'approval';

export type Approver = { kind: 'user' } | { kind: 'owner' } | { kind: 'admin' } | { kind: 'group'; group: string };

/** What a call needs when an `@approval` policy permits it: who may approve, and which policies asked for it. */
export interface ApprovalRule {
  approvers: Approver[];
  policies: string[];
}

const GROUP = /^group:([A-Za-z0-9._:@/-]{1,200})$/;

/** The approvers an annotation value names, or the reason it is not acceptable. */
export function parseApprovers(value: string | null): Approver[] | string {
  if (value === null || value.trim() === '') return [{ kind: 'user' }];
  const out: Approver[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim();
    const group = GROUP.exec(token);
    if (token === 'user' || token === 'owner' || token === 'admin') out.push({ kind: token });
    else if (group !== null) out.push({ kind: 'group', group: group[1] as string });
    else return `@approval: ${JSON.stringify(token.slice(0, 60))} is not user, owner, admin or group:<name>`;
  }
  return out;
}

/** The rule for a decision's determining policies, given each loaded policy's approvers; null when none asks. */
export function approvalRuleFor(reasons: readonly string[], byPolicy: ReadonlyMap<string, Approver[]>): ApprovalRule | null {
  let rule: ApprovalRule | null = null;
  for (const id of reasons) {
    const approvers = byPolicy.get(id);
    if (approvers === undefined) continue;
    rule ??= { approvers: [], policies: [] };
    rule.policies.push(id);
    for (const a of approvers) if (!rule.approvers.some((b) => approverKey(b) === approverKey(a))) rule.approvers.push(a);
  }
  return rule;
}

export function approverKey(a: Approver): string {
  return a.kind === 'group' ? `group:${a.group}` : a.kind;
}
