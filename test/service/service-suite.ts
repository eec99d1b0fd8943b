/**
 * The setup the per-service suites share: an embedded store and a Roster
 * server on a database of their own (ROSTER_ADMINS user:root), with clients
 * for two ordinary users, alice and bob; and the exact-failure assertion they
 * make on every validation error.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { failureOf, type RosterClient } from "../support/roster-client.ts";
import { startTestMongo, uniqueDbName, type TestMongo } from "../support/mongo.ts";
import { startTestRoster, type TestRoster } from "../support/roster-server.ts";

export interface ServiceSuite {
  readonly roster: TestRoster;
  /** user:alice. */
  readonly alice: RosterClient;
  /** user:bob. */
  readonly bob: RosterClient;
}

/**
 * Starts the store and server before the calling file's tests (on a database
 * named after `dbPrefix`) and stops them after. The returned object's fields
 * are readable from the file's own beforeAll hooks and tests on.
 */
export function useServiceSuite(dbPrefix: string): ServiceSuite {
  let mongo: TestMongo | undefined;
  let started: ServiceSuite | undefined;
  beforeAll(async () => {
    mongo = await startTestMongo();
    const roster = await startTestRoster({ mongoUri: mongo.uri, dbName: uniqueDbName(dbPrefix), admins: ["user:root"] });
    started = { roster, alice: roster.client.as(await roster.token("alice")), bob: roster.client.as(await roster.token("bob")) };
  });
  afterAll(async () => {
    await started?.roster.stop();
    await mongo?.stop();
  });
  const get = (): ServiceSuite => {
    if (started === undefined) throw new Error("the service suite is used before its beforeAll ran");
    return started;
  };
  return {
    get roster() {
      return get().roster;
    },
    get alice() {
      return get().alice;
    },
    get bob() {
      return get().bob;
    },
  };
}

/** Asserts that `call` fails with exactly `code` and details equal to `message` (or matching it, when a RegExp). */
export async function expectFailure(call: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  const failure = await failureOf(call);
  expect({ code: failure.code }).toEqual({ code });
  if (typeof message === "string") expect(failure.details).toBe(message);
  else expect(failure.details).toMatch(message);
}
