/**
 * A test Roster (startTestRoster) whose database is reached through a
 * latency proxy, so a test can make the database slow on demand: calls
 * then outlive their deadlines, or a long import is still running when a
 * test interrupts it. `stop` stops the three in order.
 */
import { startLatencyProxy, type LatencyProxy } from "./latency-proxy.ts";
import { startTestMongo } from "./mongo.ts";
import { startTestRoster, type TestRoster, type TestRosterOptions } from "./roster-server.ts";

export interface RosterBehindProxy {
  readonly roster: TestRoster;
  readonly proxy: LatencyProxy;
  stop(): Promise<void>;
}

export async function startRosterBehindProxy(options: Omit<TestRosterOptions, "mongoUri">): Promise<RosterBehindProxy> {
  const mongo = await startTestMongo();
  const proxy = await startLatencyProxy(mongo.uri);
  const roster = await startTestRoster({ ...options, mongoUri: proxy.uri });
  return {
    roster,
    proxy,
    async stop() {
      await roster.stop();
      await proxy.close();
      await mongo.stop();
    },
  };
}
