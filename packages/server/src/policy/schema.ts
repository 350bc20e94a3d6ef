/**
 * The Writ Cedar schema: what grants may talk about. Every grant is validated against it (strict mode) before it is
 * stored, so a misspelt attribute or entity type is refused at write time instead of silently never matching.
 *
 * - `User`: a human, id `<identity provider id>:<subject>`; attributes from the provider's token.
 * - `Agent`: a registered agent (the NHI register), id = agent id.
 * - `Resource`: a registered upstream, id = resource id.
 * - action `http`: an agent calls an HTTP resource for a user. At issuance `context.path` is the requested path
 *   pattern as written; at call time the concrete canonical path. Both decisions must permit.
 * - action `delegate`: reserved for sub-agent delegation (an agent acting under another).
 * Later issues add `mcp_tool` (tool name and arguments in context).
 */
export const WRIT_CEDAR_SCHEMA = `
namespace Writ {
  entity User = { idp: String, sub: String, email?: String };
  entity Agent = { name: String, owner: String, kind: String, status: String };
  entity Resource = { kind: String, name: String };

  action "http" appliesTo {
    principal: [Agent],
    resource: [Resource],
    context: { user: User, method: String, path: String, purpose: String, depth: Long }
  };

  action "delegate" appliesTo {
    principal: [Agent],
    resource: [Agent],
    context: { user: User, depth: Long }
  };
}
`;
