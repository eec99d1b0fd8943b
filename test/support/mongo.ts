/**
 * The MongoDB every Roster test suite talks to: a real deployment when
 * `MONGODB_URI` is set (so the same suites can be run against MongoDB itself),
 * otherwise the embedded store started in-process on a free port.
 */
export { spawnEmbeddedMongo, type EmbeddedMongoProcess, type SpawnedEmbeddedMongo, type SpawnEmbeddedMongoOptions } from "@roster/embedded-mongo";
export { startTestMongo, uniqueDbName, type TestMongo, type TestMongoOptions } from "@roster/embedded-mongo/testing";
