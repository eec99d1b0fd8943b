/**
 * The pipeline's inner steps on the paths where they have nothing to wait
 * for, called through `bindUnary` without a door: a step that decides at once
 * (a groupless rule, a refusal, a missing rule or caller) hands its answer
 * on as a promise, never as a synchronous throw, and a rule on a target group
 * waits for the app before the handler runs, and only then.
 */
import { create, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  GetGroupRequestSchema,
  GroupService,
  ListGroupsRequestSchema,
  type GetGroupRequest,
} from "../../gen/roster/v1/group_service_pb.ts";
import type { AccessApi } from "../../src/app/index.ts";
import type { Caller } from "../../src/domain/model.ts";
import { compileAccessRules } from "../../src/rpc/access-rules.ts";
import { createAuthorizationInterceptor } from "../../src/rpc/authorization-interceptor.ts";
import { createRootLogger } from "../../src/rpc/logger.ts";
import { createRpcPipeline } from "../../src/rpc/pipeline.ts";

const alice: Caller = { principal: "user:alice", isSystemAdmin: false };

/** A HandlerContext as a door makes one, for `method`, with `authorization`. */
function contextFor(method: HandlerContext["method"], authorization: string | undefined): HandlerContext {
  const controller = new AbortController();
  const requestHeader = new Headers();
  if (authorization !== undefined) requestHeader.set("authorization", authorization);
  return {
    method,
    service: method.parent,
    requestMethod: "POST",
    protocolName: "grpc",
    url: `/${method.parent.typeName}/${method.name}`,
    signal: controller.signal,
    timeoutMs: () => undefined,
    requestHeader,
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    values: createContextValues(),
  };
}

/** A pipeline over GroupService whose app allows only `allowed` group ids; records what it was asked. */
function pipelineWith(allowed: readonly string[], observers: readonly Interceptor[] = []) {
  const asked: string[] = [];
  const access: AccessApi = {
    async authorize(_caller, _rule, target) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      asked.push(target.groupId ?? "");
      if (!allowed.includes(target.groupId ?? "")) throw new ConnectError("not found: group", Code.NotFound);
    },
  };
  const verifier = {
    verify: (authorization: string | undefined) =>
      authorization === "Bearer alice" ? Promise.resolve(alice) : Promise.reject(new ConnectError("unauthenticated", Code.Unauthenticated)),
    verified: (authorization: string | undefined) => (authorization === "Bearer alice" ? alice : undefined),
  };
  const pipeline = createRpcPipeline({
    logger: createRootLogger({ level: "silent" }),
    verifier,
    access,
    services: [GroupService],
    observers,
  });
  return { pipeline, asked };
}

/** Calls `promise`-returning `run` and says how it ended; a synchronous throw fails the test. */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  let promise: Promise<unknown>;
  try {
    promise = run();
  } catch (error) {
    return `threw synchronously: ${String(error)}`;
  }
  try {
    await promise;
    return "ok";
  } catch (error) {
    const status = ConnectError.from(error);
    return `${Code[status.code]}: ${status.rawMessage}`;
  }
}

describe("the pipeline's inner steps", () => {
  it("runs a groupless rule's call (ListGroups) without asking the app, and a group rule's (GetGroup) only after the app allowed it", async () => {
    const { pipeline, asked } = pipelineWith(["g1"]);
    const handled: string[] = [];
    const listGroups = pipeline.bindUnary(GroupService.method.listGroups, () => {
      handled.push("list");
      return Promise.resolve({});
    });
    const getGroup = pipeline.bindUnary(GroupService.method.getGroup, (req) => {
      const { id } = req as GetGroupRequest;
      handled.push(`get ${id} after ${asked.join(",")}`);
      return Promise.resolve({ group: { id } });
    });

    expect(
      await outcome(() => listGroups(contextFor(GroupService.method.listGroups, "Bearer alice"), create(ListGroupsRequestSchema, {}))),
    ).toBe("ok");
    expect(asked).toEqual([]);
    expect(
      await outcome(() => getGroup(contextFor(GroupService.method.getGroup, "Bearer alice"), create(GetGroupRequestSchema, { id: "g1" }))),
    ).toBe("ok");
    expect(
      await outcome(() => getGroup(contextFor(GroupService.method.getGroup, "Bearer alice"), create(GetGroupRequestSchema, { id: "g2" }))),
    ).toBe("NotFound: not found: group");
    expect(handled).toEqual(["list", "get g1 after g1"]);
    expect(asked).toEqual(["g1", "g2"]);
  });

  it("refuses at once, as a rejected promise, a method without a rule and a call that skipped authentication", async () => {
    const rules = compileAccessRules([GroupService]);
    const access: AccessApi = { authorize: () => Promise.reject(new Error("the app was asked")) };
    const next: Parameters<Interceptor>[0] = () => Promise.reject(new Error("the call went on"));
    const withoutRules = createAuthorizationInterceptor(new Map(), access)(next);
    const withRules = createAuthorizationInterceptor(rules, access)(next);
    const request = (ctx: HandlerContext, message: Message) =>
      ({
        stream: false,
        message,
        method: ctx.method,
        service: ctx.service,
        requestMethod: "POST",
        header: ctx.requestHeader,
        contextValues: ctx.values,
        url: ctx.url,
        signal: ctx.signal,
      }) as Parameters<typeof next>[0];
    const list = contextFor(GroupService.method.listGroups, undefined);
    expect(await outcome(() => withoutRules(request(list, create(ListGroupsRequestSchema, {}))))).toBe(
      "PermissionDenied: permission denied: roster.v1.GroupService/ListGroups has no access rule",
    );
    expect(await outcome(() => withRules(request(list, create(ListGroupsRequestSchema, {}))))).toBe(
      "Internal: internal error: call reached a handler without authentication",
    );
    const get = contextFor(GroupService.method.getGroup, undefined);
    expect(await outcome(() => withRules(request(get, create(GetGroupRequestSchema, { id: "g1" }))))).toBe(
      "Internal: internal error: call reached a handler without authentication",
    );
  });

  it("hands the door a rejected promise, never a throw, when a step throws synchronously", async () => {
    const throwing: Interceptor = () => () => {
      throw new ConnectError("observer broke", Code.Unavailable);
    };
    const { pipeline } = pipelineWith(["g1"], [throwing]);
    const listGroups = pipeline.bindUnary(GroupService.method.listGroups, () => Promise.resolve({}));
    expect(
      await outcome(() => listGroups(contextFor(GroupService.method.listGroups, "Bearer alice"), create(ListGroupsRequestSchema, {}))),
    ).toBe("Unavailable: observer broke");
  });
});
