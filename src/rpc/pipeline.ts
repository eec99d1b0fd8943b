/**
 * The transport-neutral RPC pipeline, written once for both doors:
 *
 *   [observers] → request log → error mapping → deadline → authentication → consistency → authorization → handler
 *
 * Each step is a connect `Interceptor` over the call's ContextValues, so:
 * - the Connect/gRPC-web door (connect-node) passes
 *   `pipeline.interceptors` to `connectNodeAdapter({ interceptors })` and
 *   registers the same handler objects;
 * - the gRPC door (grpc-js) has no interceptor machinery of its own for
 *   connect handlers, so it binds each method here (`bindUnary`,
 *   `bindStream`) and calls the returned function with a connect
 *   HandlerContext it created for the call.
 * Either way the same steps run in the same order around the same handlers.
 */
import {
  create,
  isMessage,
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  type DescService,
  type Message,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import type { AccessApi } from "../app/index.ts";
import type { CertificateCaller } from "../auth/certificate-caller.ts";
import { compileAccessRules, type AccessRules } from "./access-rules.ts";
import { createAuthenticationInterceptor, type CallerVerifier } from "./authentication-interceptor.ts";
import { createAuthorizationInterceptor } from "./authorization-interceptor.ts";
import { createConsistencyInterceptor } from "./consistency-interceptor.ts";
import { createCredentialExpiryInterceptor } from "./credential-expiry-interceptor.ts";
import { createDeadlineInterceptor } from "./deadline-interceptor.ts";
import { createErrorMappingInterceptor } from "./error-interceptor.ts";
import { createRequestLogInterceptor } from "./request-log-interceptor.ts";

/** What the pipeline needs. `services` are every service it will serve (their rules are compiled now). */
export interface RpcPipelineDeps {
  readonly logger: Logger;
  readonly verifier: CallerVerifier;
  readonly access: AccessApi;
  readonly services: readonly DescService[];
  /**
   * Names the caller of a call without a bearer token from its verified
   * client certificate (ROSTER_GRPC_CLIENT_CERT_IDENTITY=service-cn); absent:
   * certificates never identify a caller.
   */
  readonly certificateCaller?: CertificateCaller | undefined;
  /**
   * Interceptors that watch calls from outside every other step (metrics):
   * they see the final status of each call, exactly as it is sent.
   */
  readonly observers?: readonly Interceptor[];
}

/** A unary implementation as the gRPC door calls it (any message types). */
export type AnyUnaryImpl = (request: Message, ctx: HandlerContext) => unknown;
/** A streaming implementation (client, server or bidi) as the gRPC door calls it. */
export type AnyStreamImpl = (request: never, ctx: HandlerContext) => unknown;

/** The outcome of a unary call: the response and the headers/trailers to send. */
export interface UnaryResult {
  readonly message: Message;
  readonly header: Headers;
  readonly trailer: Headers;
}

/** The outcome of a streaming call: messages to send as they come, then the trailers. */
export interface StreamResult {
  readonly message: AsyncIterable<Message>;
  readonly header: Headers;
  readonly trailer: Headers;
}

export interface RpcPipeline {
  /** Every step, outermost first: for connect-node's `interceptors` option. */
  readonly interceptors: readonly Interceptor[];
  /** The compiled access rules (read once from the method options). */
  readonly rules: AccessRules;
  /** Binds a unary method's implementation; call the result once per call. */
  bindUnary(method: DescMethodUnary, impl: AnyUnaryImpl): (ctx: HandlerContext, request: Message) => Promise<UnaryResult>;
  /** Binds a streaming method's implementation; `requests` is one message for server streaming. */
  bindStream(
    method: DescMethodStreaming,
    impl: AnyStreamImpl,
  ): (ctx: HandlerContext, requests: AsyncIterable<Message>) => Promise<StreamResult>;
  /**
   * For a call the door cannot start (e.g. an undecodable request): runs
   * only the request log and error mapping so the failure is logged and
   * shaped like any other, and returns the status to send.
   */
  reject(method: DescMethod, ctx: HandlerContext, error: unknown): Promise<ConnectError>;
}

/** The HandlerContext of the call, for the innermost step of a chain bound here. */
const handlerContextKey = createContextKey<HandlerContext | undefined>(undefined, { description: "roster handler context" });

type AnyRequest = UnaryRequest | StreamRequest;
type AnyResponse = UnaryResponse | StreamResponse;
type AnyFn = (req: AnyRequest) => Promise<AnyResponse>;

/** Builds the pipeline; throws if a method's access rule cannot be enforced as declared. */
export function createRpcPipeline(deps: RpcPipelineDeps): RpcPipeline {
  const rules = compileAccessRules(deps.services);
  const outer: Interceptor[] = [...(deps.observers ?? []), createRequestLogInterceptor(deps.logger), createErrorMappingInterceptor()];
  const inner: Interceptor[] = [
    createDeadlineInterceptor(),
    createAuthenticationInterceptor(deps.verifier, deps.certificateCaller),
    createCredentialExpiryInterceptor(),
    createConsistencyInterceptor(),
    createAuthorizationInterceptor(rules, deps.access),
  ];
  const interceptors = [...outer, ...inner];

  // One chain per kind, shared by every method: the innermost step finds
  // the method's implementation by `req.method`, so each step's `next` is
  // the same function on every call. A chain per method (one closure per
  // step per method, all sharing the steps' code) made every `next(req)`
  // call site see several targets once two methods had run, and V8
  // deoptimized each step ("wrong call target" under --trace-deopt). Measured
  // with bench:rpc (7 alternated pairs on a loaded machine): CheckMembership's
  // service CPU per call 9% lower on average, GetGroup's unchanged.
  const unaryImpls = new Map<DescMethod, AnyUnaryImpl>();
  const streamImpls = new Map<DescMethod, AnyStreamImpl>();
  const unaryChain = compose(interceptors, async (req) => {
    const ctx = contextOf(req);
    const method = req.method as DescMethodUnary;
    const output = await implOf(unaryImpls, method)(req.message as Message, ctx);
    return {
      stream: false,
      message: normalize(method.output, output),
      method,
      service: req.service,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
    };
  });
  const streamChain = compose(interceptors, async (req) => {
    const ctx = contextOf(req);
    const method = req.method as DescMethodStreaming;
    const impl = implOf(streamImpls, method);
    const input = req.message as AsyncIterable<Message>;
    let output: AsyncIterable<unknown> | Iterable<unknown>;
    switch (method.methodKind) {
      case "server_streaming":
        output = (impl as (r: Message, c: HandlerContext) => AsyncIterable<unknown>)(await single(input), ctx);
        break;
      case "client_streaming": {
        const one = await (impl as (r: AsyncIterable<Message>, c: HandlerContext) => Promise<unknown>)(input, ctx);
        output = [one];
        break;
      }
      case "bidi_streaming":
        output = (impl as (r: AsyncIterable<Message>, c: HandlerContext) => AsyncIterable<unknown>)(input, ctx);
        break;
    }
    return {
      stream: true,
      message: normalizeStream(method.output, output),
      method,
      service: req.service,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
    };
  });

  // The bound functions hand the chain's own promise to the door, without an
  // async frame of their own (one promise and two microtasks less per call):
  // the response is the chain's, whose kind is the innermost step's (every
  // step passes its `next`'s response on, or a copy of it).
  return {
    interceptors,
    rules,
    bindUnary(method, impl) {
      unaryImpls.set(method, impl);
      return (ctx, request) => {
        ctx.values.set(handlerContextKey, ctx);
        try {
          return unaryChain(requestOf(ctx, method, false, request)) as Promise<UnaryResponse>;
        } catch (error) {
          return rejection(error);
        }
      };
    },
    bindStream(method, impl) {
      streamImpls.set(method, impl);
      return (ctx, requests) => {
        ctx.values.set(handlerContextKey, ctx);
        try {
          return streamChain(requestOf(ctx, method, true, requests)) as Promise<StreamResponse>;
        } catch (error) {
          return rejection(error);
        }
      };
    },
    async reject(method, ctx, error) {
      const failing = compose(outer, () => Promise.reject(error instanceof Error ? error : new Error(String(error))));
      try {
        await failing(requestOf(ctx, method, method.methodKind !== "unary", undefined));
      } catch (status) {
        return ConnectError.from(status);
      }
      return new ConnectError("internal error", Code.Internal);
    },
  };
}

/** A step's synchronous throw as the rejection the door expects (it is handed a promise either way). */
function rejection(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}

/** connect's onion order: the first interceptor is the outermost. */
function compose(interceptors: readonly Interceptor[], last: AnyFn): AnyFn {
  let fn = last;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i];
    if (interceptor !== undefined) fn = interceptor(fn);
  }
  return fn;
}

/** The implementation bound for `method` (every call reaching a chain comes from a bound method). */
function implOf<T>(impls: ReadonlyMap<DescMethod, T>, method: DescMethod): T {
  const impl = impls.get(method);
  if (impl === undefined) throw new ConnectError(`internal error: ${method.name} is not bound`, Code.Internal);
  return impl;
}

function contextOf(req: AnyRequest): HandlerContext {
  const ctx = req.contextValues.get(handlerContextKey);
  if (ctx === undefined) throw new ConnectError("internal error: call bound without a handler context", Code.Internal);
  return ctx;
}

function requestOf(ctx: HandlerContext, method: DescMethod, stream: boolean, message: unknown): AnyRequest {
  return new PipelineRequest(ctx, method, stream, message) as unknown as AnyRequest;
}

/**
 * A call's request as the steps see it. A class, not an object literal: the
 * literal's `signal` getter was a new function per call (requestOf was ~1.5%
 * of the service's CPU per CheckMembership in `npm run bench:rpc`).
 */
class PipelineRequest {
  readonly stream: boolean;
  readonly message: unknown;
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod: string;
  readonly header: Headers;
  readonly contextValues: HandlerContext["values"];
  readonly #ctx: HandlerContext;

  constructor(ctx: HandlerContext, method: DescMethod, stream: boolean, message: unknown) {
    this.#ctx = ctx;
    this.stream = stream;
    this.message = message;
    this.method = method;
    this.service = method.parent;
    this.requestMethod = ctx.requestMethod;
    this.header = ctx.requestHeader;
    this.contextValues = ctx.values;
  }

  /** Read when a step asks (no step does on the common path; the gRPC door builds it from the method). */
  get url(): string {
    return this.#ctx.url;
  }

  /** Read when a step asks: a door may make the signal on first use (call-context.ts). */
  get signal(): AbortSignal {
    return this.#ctx.signal;
  }
}

/** Handlers may return init objects (`{ group }`); the doors serialize real messages. */
function normalize(schema: DescMessage, value: unknown): Message {
  if (isMessage(value, schema)) return value;
  return create(schema, value as never);
}

async function* normalizeStream(schema: DescMessage, values: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<Message> {
  for await (const value of values) yield normalize(schema, value);
}

/** The one request of a server-streaming call. */
async function single(input: AsyncIterable<Message>): Promise<Message> {
  let found: Message | undefined;
  for await (const message of input) {
    if (found !== undefined) throw new ConnectError("protocol error: expected one request message", Code.InvalidArgument);
    found = message;
  }
  if (found === undefined) throw new ConnectError("protocol error: missing request message", Code.InvalidArgument);
  return found;
}
