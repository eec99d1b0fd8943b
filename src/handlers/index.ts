/** The service implementations both doors serve, keyed by service. */
import type { DescService } from "@bufbuild/protobuf";
import type { RosterApp } from "../app/index.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { createGroupServiceHandlers } from "./group-service.ts";
import { createMembershipServiceHandlers } from "./membership-service.ts";

/** A service descriptor with its implementation (method local name → function). */
export interface ServiceRegistration {
  readonly service: DescService;
  readonly impl: Readonly<Record<string, unknown>>;
}

/** Every public Roster service, with its handlers over `app`. */
export function createRosterServices(app: RosterApp): readonly ServiceRegistration[] {
  return [
    { service: GroupService, impl: createGroupServiceHandlers(app) },
    { service: MembershipService, impl: createMembershipServiceHandlers(app) },
  ];
}
