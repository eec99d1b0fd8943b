/**
 * Typed clients of every Roster service through either door, for tests that
 * run the same cases over both: gRPC (connect-node's gRPC transport over
 * HTTP/2 on the gRPC door, as the `roster` command calls it) and Connect
 * (connect-node's Connect transport over HTTP/1.1 on the web door, as a
 * browser calls it). Failures are reduced to the gRPC code name and message.
 */
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ChangeService } from "../../gen/roster/v1/change_service_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";

export const doors = ["gRPC", "Connect"] as const;
export type Door = (typeof doors)[number];

export interface DoorEndpoints {
  /** `127.0.0.1:PORT` of the gRPC door. */
  readonly grpcAddress: string;
  /** `http://127.0.0.1:PORT` of the web door. */
  readonly webUrl: string;
}

export interface DoorClients {
  readonly groups: Client<typeof GroupService>;
  readonly memberships: Client<typeof MembershipService>;
  readonly changes: Client<typeof ChangeService>;
}

/** Clients of `door` that send `token` (and `headers`) with every call. */
export function doorClients(door: Door, endpoints: DoorEndpoints, token: string, headers: Readonly<Record<string, string>> = {}): DoorClients {
  const authorize: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
    return next(req);
  };
  const transport: Transport =
    door === "gRPC"
      ? createGrpcTransport({ baseUrl: `http://${endpoints.grpcAddress}`, interceptors: [authorize] })
      : createConnectTransport({ baseUrl: endpoints.webUrl, httpVersion: "1.1", interceptors: [authorize] });
  return {
    groups: createClient(GroupService, transport),
    memberships: createClient(MembershipService, transport),
    changes: createClient(ChangeService, transport),
  };
}

/** The failure of a call expected to fail, as the gRPC code name and the message. Throws if it succeeded. */
export async function doorFailure(call: Promise<unknown>): Promise<{ readonly code: string; readonly message: string }> {
  try {
    await call;
  } catch (error) {
    const failure = ConnectError.from(error);
    return { code: codeName(failure.code), message: failure.rawMessage };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/** The gRPC code name ("NOT_FOUND") of a Connect code. */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
