/**
 * The token endpoint's grants for stock clients as one entry point for the OAuth endpoints: which grant types are
 * theirs, and each refusal audited (`token.denied`, with whoever could be identified) exactly as the token exchange
 * audits its own.
 */
import { GRANT_TYPE } from '@writ/protocol';
import { asOAuthError, OAuthError } from '../errors/index.js';
import type { AuditPort } from '../audit/index.js';
import { recordTokenDenial } from '../token/index.js';
import { idJagGrant, type IdJagDeps } from './id-jag-grant.js';
import type { GrantAsker, GrantContext, StockTokenResponse, TokenGrants } from './token-grants.js';

export interface StockClientGrants {
  handles(grantType: string | null): boolean;
  handle(grantType: string, form: URLSearchParams, ctx: GrantContext): Promise<StockTokenResponse>;
}

export function stockClientGrants(deps: {
  grants: TokenGrants;
  idJag: IdJagDeps;
  audit: AuditPort;
  onUnexpected?(err: unknown, traceId: string): void;
}): StockClientGrants {
  const run: Record<string, (form: URLSearchParams, ctx: GrantContext, asker: GrantAsker) => Promise<StockTokenResponse>> = {
    [GRANT_TYPE.authorizationCode]: (f, c, a) => deps.grants.authorizationCode(f, c, a),
    [GRANT_TYPE.refreshToken]: (f, c, a) => deps.grants.refresh(f, c, a),
    [GRANT_TYPE.jwtBearer]: (f, c, a) => idJagGrant(f, c, a, deps.idJag),
  };
  return {
    handles: (grantType) => grantType !== null && Object.hasOwn(run, grantType),
    async handle(grantType, form, ctx) {
      const asker: GrantAsker = {};
      try {
        if (form.getAll('grant_type').length > 1) throw new OAuthError('invalid_request', 'parameter grant_type repeated');
        return await (run[grantType] as (typeof run)[string])(form, ctx, asker);
      } catch (err) {
        if (!(err instanceof OAuthError)) deps.onUnexpected?.(err, ctx.traceId);
        const e = asOAuthError(err);
        recordTokenDenial(deps.audit, e, { traceId: ctx.traceId, asker, source: ctx.source, data: { grant_type: grantType } });
        throw e;
      }
    },
  };
}
