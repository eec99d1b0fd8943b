/** The service implementations both doors serve, keyed by service. */
import type { RosterApp } from "../app/index.ts";
import { ChangeService } from "../../gen/roster/v1/change_service_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { createReadResponses } from "../convert/read-responses.ts";
import type { ServiceRegistration } from "../rpc/service-registration.ts";
import { createChangeServiceHandlers } from "./change-service.ts";
import { createGroupServiceHandlers } from "./group-service.ts";
import { createMembershipServiceHandlers } from "./membership-service.ts";

/** Every public Roster service, with its handlers over `app`. */
export function createRosterServices(app: RosterApp): readonly ServiceRegistration[] {
  const responses = createReadResponses();
  return [
    { service: GroupService, impl: createGroupServiceHandlers(app, responses) },
    { service: MembershipService, impl: createMembershipServiceHandlers(app, responses) },
    { service: ChangeService, impl: createChangeServiceHandlers(app) },
  ];
}
