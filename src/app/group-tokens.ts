/**
 * IssueGroupToken (Lookup's getToken): a JWT whose subject is a group, for
 * other services. The app decides what the token says and for how long; the
 * signing itself is a port (the domain's `GroupTokenSigner`) that server.ts fills with
 * Roster's signing key (src/auth/signing-key.ts), so the app holds no key
 * and imports no JWT library.
 */
import { failedPrecondition } from "../domain/errors.ts";
import { ensureGroupActive } from "../domain/group-lifecycle.ts";
import { groupTokenTtlSeconds, validateAudience, type GroupTokenSigner } from "../domain/group-token.ts";
import { groupNotFound } from "../domain/access-policy.ts";
import { validateGroupId } from "../domain/group-validation.ts";
import type { Caller } from "../domain/model.ts";
import { groupPrincipal } from "../domain/principal.ts";
import { loadGroup } from "./access-facts.ts";
import type { AppContext } from "./app-context.ts";
import { storeCallOf, type CallOptions } from "./call-options.ts";

export interface GroupTokenRequest {
  readonly groupId: string;
  readonly audience: string;
  /** Requested lifetime in seconds; undefined = the configured default. */
  readonly ttlSeconds: number | undefined;
}

export interface IssuedGroupToken {
  readonly token: string;
  readonly expireTime: Date;
  readonly tokenId: string;
}

export interface GroupTokensApi {
  /**
   * Issues a token for a live group (the caller's WRITE was decided by the
   * pipeline); failed_precondition when the group is deleted or no signing
   * key is configured.
   */
  issue(caller: Caller, request: GroupTokenRequest, options?: CallOptions): Promise<IssuedGroupToken>;
}

export function createGroupTokensApi(ctx: AppContext, signer: GroupTokenSigner | undefined, newTokenId: () => string): GroupTokensApi {
  return {
    async issue(_caller, request, options) {
      const groupId = validateGroupId(request.groupId, "group_id");
      const audience = validateAudience(request.audience);
      if (signer === undefined) throw failedPrecondition("group tokens are not enabled: Roster has no signing key (ROSTER_SIGNING_KEY)");
      const ttlSeconds = groupTokenTtlSeconds(request.ttlSeconds, signer.limits);
      const group = await loadGroup(ctx, groupId, storeCallOf(options), options?.memo);
      if (group === undefined) throw groupNotFound(groupId);
      ensureGroupActive(group);
      // Whole seconds, as in the token, so expire_time equals its exp claim.
      const issuedAt = new Date(Math.floor(ctx.clock().getTime() / 1000) * 1000);
      const expiresAt = new Date(issuedAt.getTime() + ttlSeconds * 1000);
      const tokenId = newTokenId();
      const token = await signer.sign({ subject: groupPrincipal(groupId), audience, issuedAt, expiresAt, tokenId });
      return { token, expireTime: expiresAt, tokenId };
    },
  };
}
