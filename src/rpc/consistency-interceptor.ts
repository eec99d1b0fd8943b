/**
 * The pipeline's consistency step, between authentication and
 * authorization: a read RPC is one whose request declares a
 * `roster.v1.Consistency` field (the proto is the declaration), and its
 * value — minimize_latency when unset — goes into the call's options, so the
 * authorization step and the use case read the same source (the read model
 * or the database) at the same freshness. A malformed token is refused here,
 * before any read, as invalid_argument naming `consistency.at_least_as_fresh`.
 * Every other call (every write) carries no consistency: its authorization
 * reads the database.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { consistencyFromProto } from "../convert/consistency.ts";
import { ConsistencySchema, type Consistency } from "../../gen/roster/v1/consistency_pb.ts";
import { setReadConsistency } from "./context.ts";

/** The name and local name of `input`'s Consistency field, if it has one. */
export function consistencyFieldOf(input: DescMessage): { readonly name: string; readonly localName: string } | undefined {
  const field = input.fields.find((f) => f.fieldKind === "message" && f.message.typeName === ConsistencySchema.typeName);
  return field === undefined ? undefined : { name: field.name, localName: field.localName };
}

export function createConsistencyInterceptor(): Interceptor {
  const fields = new Map<DescMessage, ReturnType<typeof consistencyFieldOf>>();
  return (next) => (req) => {
    if (!req.stream) {
      const input = req.method.input;
      if (!fields.has(input)) fields.set(input, consistencyFieldOf(input));
      const field = fields.get(input);
      if (field !== undefined) {
        const value = (req.message as unknown as Record<string, Consistency | undefined>)[field.localName];
        setReadConsistency(req, consistencyFromProto(value, field.name));
      }
    }
    return next(req);
  };
}
