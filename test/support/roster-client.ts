/**
 * A small typed @grpc/grpc-js client for tests and benchmarks, built from the
 * protobuf-es service descriptors (the same way the server builds its service
 * definitions): `client.as(token).groups.getGroup({ id })` resolves to the
 * typed response message or rejects with the gRPC ServiceError.
 */
import { create, type Message, type DescMethod, type DescMethodUnary, type DescService, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Client, credentials, Metadata, status, type ChannelCredentials, type ChannelOptions, type ServiceError } from "@grpc/grpc-js";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { decodeResponse, encodeMessage } from "../../src/transport/grpc/message-codec.ts";
import { grpcPath } from "../../src/transport/grpc/service-definition.ts";

export interface RpcOptions {
  /** Sent as `authorization: Bearer <token>`; omit for an anonymous call. */
  readonly token?: string | undefined;
  /** A raw authorization header value (overrides token), e.g. "Basic x". */
  readonly authorization?: string | undefined;
  /** Relative deadline in milliseconds. */
  readonly deadlineMs?: number;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A successful call with its metadata. */
export interface RpcResult<T> {
  readonly message: T;
  readonly headers: Metadata;
  readonly trailers: Metadata;
}

type UnaryMethodsOf<S extends DescService> = {
  [K in keyof S["method"] as S["method"][K] extends DescMethodUnary ? K : never]: S["method"][K] extends DescMethodUnary<
    infer I,
    infer O
  >
    ? (request: MessageInitShape<I>, options?: RpcOptions) => Promise<MessageShape<O>>
    : never;
};

export interface RosterClient {
  readonly groups: UnaryMethodsOf<typeof GroupService>;
  readonly memberships: UnaryMethodsOf<typeof MembershipService>;
  /** The same client with a default token for every call. */
  as(token: string | undefined): RosterClient;
  /** A unary call returning headers and trailers too. */
  call<I extends DescMethodUnary>(
    method: I,
    request: MessageInitShape<I["input"]>,
    options?: RpcOptions,
  ): Promise<RpcResult<MessageShape<I["output"]>>>;
  /** Sends raw bytes as the request of `method` (malformed-message tests). */
  callRaw(method: DescMethod, bytes: Buffer, options?: RpcOptions): Promise<Buffer>;
  /** The underlying grpc-js client. */
  readonly raw: Client;
  close(): void;
}

/** A client of the gRPC door at `address`; plaintext unless `channelCredentials` say TLS (and client certificate). */
export function createRosterClient(
  address: string,
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
  channelOptions: ChannelOptions = {},
): RosterClient {
  const raw = new Client(address, channelCredentials, channelOptions);
  return bind(raw, {});
}

function bind(raw: Client, defaults: RpcOptions): RosterClient {
  const call = <I extends DescMethodUnary>(
    method: I,
    request: MessageInitShape<I["input"]>,
    options: RpcOptions = {},
  ): Promise<RpcResult<MessageShape<I["output"]>>> => {
    const merged = { ...defaults, ...options };
    const message: Message = create(method.input, request);
    return new Promise((resolve, reject) => {
      let headers = new Metadata();
      let trailers = new Metadata();
      const unary = raw.makeUnaryRequest(
        grpcPath(method),
        (m: Message) => encodeMessage(method.input, m),
        (bytes: Buffer) => decodeResponse(method.output, bytes) as MessageShape<I["output"]>,
        message,
        metadataOf(merged),
        callOptionsOf(merged),
        (error: ServiceError | null, response?: MessageShape<I["output"]>) => {
          if (error) reject(error);
          else if (response === undefined) reject(new Error("no response"));
          else resolve({ message: response, headers, trailers });
        },
      );
      unary.on("metadata", (m: Metadata) => (headers = m));
      unary.on("status", (s: { metadata: Metadata }) => (trailers = s.metadata));
    });
  };
  const serviceClient = <S extends DescService>(service: S): UnaryMethodsOf<S> => {
    const methods: Record<string, unknown> = {};
    for (const method of service.methods) {
      if (method.methodKind !== "unary") continue;
      methods[method.localName] = async (request: never, options?: RpcOptions) =>
        (await call(method as DescMethodUnary, request, options)).message;
    }
    return methods as UnaryMethodsOf<S>;
  };
  return {
    groups: serviceClient(GroupService),
    memberships: serviceClient(MembershipService),
    as: (token) => bind(raw, { ...defaults, token }),
    call,
    callRaw(method, bytes, options = {}) {
      const merged = { ...defaults, ...options };
      return new Promise((resolve, reject) => {
        raw.makeUnaryRequest(
          grpcPath(method),
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          metadataOf(merged),
          callOptionsOf(merged),
          (error: ServiceError | null, response?: Buffer) => {
            if (error) reject(error);
            else resolve(response ?? Buffer.alloc(0));
          },
        );
      });
    },
    raw,
    close: () => {
      raw.close();
    },
  };
}

function metadataOf(options: RpcOptions): Metadata {
  const metadata = new Metadata();
  const authorization = options.authorization ?? (options.token === undefined ? undefined : `Bearer ${options.token}`);
  if (authorization !== undefined) metadata.set("authorization", authorization);
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
}

function callOptionsOf(options: RpcOptions): { deadline?: Date } {
  return options.deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + options.deadlineMs) };
}

/** The failure of a call expected to fail: its code name and details. Throws if it succeeded. */
export async function failureOf(promise: Promise<unknown>): Promise<{ code: string; details: string; metadata: Metadata }> {
  try {
    await promise;
  } catch (error) {
    const e = error as ServiceError;
    if (typeof e.code !== "number") throw error;
    return { code: status[e.code], details: e.details, metadata: e.metadata };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** The gRPC code name a call ends with: "OK" on success. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    const e = error as ServiceError;
    if (typeof e.code !== "number") throw error;
    return status[e.code];
  }
}
