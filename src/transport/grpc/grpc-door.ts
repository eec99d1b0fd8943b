/**
 * The gRPC door: a @grpc/grpc-js server serving Roster's services through the
 * shared RPC pipeline, with service definitions built from the protobuf-es
 * descriptors. Operator services (health, reflection) are added by the caller
 * through `register`, outside the pipeline (they need no token).
 */
import { readFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { ServiceRegistration } from "../../rpc/service-registration.ts";
import type { RpcPipeline } from "../../rpc/pipeline.ts";
import { addBenchNoop } from "./bench-noop.ts";
import { createCallAdapter } from "./call-adapters.ts";
import { abortCallsInFlight, type GrpcHandlerContext } from "./call-context.ts";
import { createServerServiceDefinition } from "./service-definition.ts";

/** TLS material of the door; `clientCa` turns on client-certificate verification (mTLS). */
export interface GrpcTlsOptions {
  readonly certPath: string;
  readonly keyPath: string;
  readonly clientCaPath?: string | undefined;
  /**
   * With `clientCaPath`: pass each call's verified certificate subject CN to
   * the pipeline, whose authentication step may name the caller by it.
   */
  readonly readClientCertificate?: boolean | undefined;
}

export interface GrpcDoorOptions {
  /** Addresses to listen on, all on the same port (e.g. `127.0.0.1` and `::1`). */
  readonly hosts: readonly string[];
  /** 0 picks a free port (the first address's; the others get the same). */
  readonly port: number;
  readonly pipeline: RpcPipeline;
  readonly services: readonly ServiceRegistration[];
  /** Largest message received or sent; bigger requests get RESOURCE_EXHAUSTED from grpc-js. */
  readonly maxMessageBytes: number;
  readonly tls?: GrpcTlsOptions | undefined;
  /** Registers the hidden benchmark no-op method (see bench-noop.ts). */
  readonly benchNoop?: boolean;
  /** Adds more services (health, reflection) before the server starts. */
  readonly register?: (server: Server) => void;
}

export interface GrpcDoor {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Graceful stop: new calls are refused at once; in-flight calls and streams
   * get `graceMs` to finish; then they are cancelled with UNAVAILABLE
   * "server is shutting down" and the server is forced down.
   */
  close(graceMs: number): Promise<void>;
}

/** Time between cancelling in-flight calls and forcing the connections closed, so statuses reach clients. */
const forceDelayMs = 200;

/** Starts the gRPC door and resolves once it is listening. */
export async function startGrpcDoor(options: GrpcDoorOptions): Promise<GrpcDoor> {
  const shutdown = new AbortController();
  const inFlight = { shutdownSignal: shutdown.signal, calls: new Set<GrpcHandlerContext>() };
  const server = new Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_send_message_length": options.maxMessageBytes,
  });
  const callOptions = {
    inFlight,
    readClientCertificate: options.tls?.clientCaPath !== undefined && options.tls.readClientCertificate === true,
  };
  for (const { service, impl } of options.services) {
    const handlers: UntypedServiceImplementation = {};
    for (const method of service.methods) {
      handlers[method.name] = createCallAdapter(options.pipeline, method, impl[method.localName], callOptions);
    }
    server.addService(createServerServiceDefinition(service), handlers);
  }
  if (options.benchNoop === true) addBenchNoop(server);
  options.register?.(server);

  const credentials = await credentialsFor(options.tls);
  let port = options.port;
  try {
    for (const host of options.hosts) {
      port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(`${hostForUri(host)}:${port}`, credentials, (error, bound) => {
          if (error) reject(new Error(`gRPC door cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
          else resolve(bound);
        });
      });
    }
  } catch (error) {
    // Addresses bound before the failing one must not stay open.
    server.forceShutdown();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      let forceTimer: NodeJS.Timeout | undefined;
      const graceTimer = setTimeout(() => {
        const reason = new ConnectError("server is shutting down", Code.Unavailable);
        shutdown.abort(reason);
        abortCallsInFlight(inFlight, reason);
        forceTimer = setTimeout(() => {
          server.forceShutdown();
        }, forceDelayMs);
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(graceTimer);
        if (forceTimer !== undefined) clearTimeout(forceTimer);
        resolve();
      });
    });
    return closing;
  };
  return { port, close };
}

async function credentialsFor(tls: GrpcTlsOptions | undefined): Promise<ServerCredentials> {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certPath),
    readFile(tls.keyPath),
    tls.clientCaPath === undefined ? Promise.resolve(null) : readFile(tls.clientCaPath),
  ]);
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null);
}

/** IPv6 literals need brackets in a gRPC target. */
function hostForUri(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
