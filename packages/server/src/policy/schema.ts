/**
 * The Writ Cedar schema: what grants may talk about. Every grant is validated against it (strict mode) before it is
 * stored, so a misspelt attribute or entity type is refused at write time instead of silently never matching.
 *
 * - `User`: a human, id `<identity provider id>:<subject>`; attributes from the provider's token.
 * - `Agent`: a registered agent (the NHI register), id = agent id.
 * - `Resource`: a registered upstream, id = resource id.
 * - action `http`: an agent calls an HTTP resource for a user. At issuance `context.path` is the requested path
 *   pattern as written; at call time the concrete canonical path. Both decisions must permit.
 * - action `mcp_tool`: an agent calls a tool of an MCP resource for a user. At issuance `context.tool` is the
 *   requested tool pattern as written (`search`, `read*`, or `*`): a grant that means "tools starting with read" says
 *   `context.tool like "read*"`, which permits the pattern `read*` itself as well as `read_file`, and nothing wider.
 *   The call-time request with the concrete tool name is made by the MCP gateway for every `tools/call`. The token's
 *   argument limits travel in its authorization details; grants' conditions on arguments use each tool's own action,
 *   `mcp_tool:<resource>/<tool>`, added to this schema per deployment from the recorded input schemas
 *   (tool-arguments.ts).
 * - actions `mcp_resource` (`context.uri`) and `mcp_prompt` (`context.prompt`): reading a resource URI, getting a
 *   prompt; the requested pattern at issuance, the concrete URI or name at call time.
 * - action `delegate`: an agent (principal) hands part of its task to a sub-agent (resource) for a user, at
 *   `context.depth` levels below the root task.
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

  action "mcp_tool" appliesTo {
    principal: [Agent],
    resource: [Resource],
    context: { user: User, tool: String, purpose: String, depth: Long }
  };

  action "mcp_resource" appliesTo {
    principal: [Agent],
    resource: [Resource],
    context: { user: User, uri: String, purpose: String, depth: Long }
  };

  action "mcp_prompt" appliesTo {
    principal: [Agent],
    resource: [Resource],
    context: { user: User, prompt: String, purpose: String, depth: Long }
  };

  action "delegate" appliesTo {
    principal: [Agent],
    resource: [Agent],
    context: { user: User, depth: Long }
  };
}
`;
