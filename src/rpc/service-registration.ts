/** What both doors serve: a service descriptor and the handler object implementing it. */
import type { DescService } from "@bufbuild/protobuf";

/** A service descriptor with its implementation (method local name → function). */
export interface ServiceRegistration {
  readonly service: DescService;
  readonly impl: Readonly<Record<string, unknown>>;
}
