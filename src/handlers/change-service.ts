/**
 * ChangeService: parse the request, call the app, convert the answer.
 * ListGroupHistory was authorized by the pipeline (MANAGE, or one's own
 * records); WatchChanges and ListChanges are FILTERED: the app delivers
 * each change only to callers who may receive it.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { RosterApp } from "../app/index.ts";
import type { ChangeService } from "../../gen/roster/v1/change_service_pb.ts";
import { changeToProto, feedMessageToProto } from "../convert/change.ts";
import { dateFromProto } from "../convert/timestamps.ts";
import { callOptionsOf, requireCaller } from "../rpc/context.ts";

/** The ChangeService implementation served by both doors. */
export function createChangeServiceHandlers(app: RosterApp): ServiceImpl<typeof ChangeService> {
  return {
    async listGroupHistory(req, ctx) {
      const page = await app.changes.listGroupHistory(
        requireCaller(ctx),
        {
          groupId: req.groupId,
          member: req.member,
          since: dateFromProto(req.since, "since"),
          until: dateFromProto(req.until, "until"),
          pageSize: req.pageSize,
          pageToken: req.pageToken,
        },
        callOptionsOf(ctx),
      );
      return { changes: page.changes.map(changeToProto), nextPageToken: page.nextPageToken };
    },

    async *watchChanges(req, ctx) {
      const messages = app.changes.watch(
        requireCaller(ctx),
        { startToken: req.startToken, groupIds: req.groupIds, namespace: req.namespace },
        callOptionsOf(ctx),
      );
      for await (const message of messages) yield feedMessageToProto(message);
    },

    async listChanges(req, ctx) {
      const page = await app.changes.list(
        requireCaller(ctx),
        { startToken: req.startToken, groupIds: req.groupIds, namespace: req.namespace, pageSize: req.pageSize },
        callOptionsOf(ctx),
      );
      return { changes: page.changes.map(changeToProto), nextToken: page.nextToken, caughtUp: page.caughtUp };
    },
  };
}
