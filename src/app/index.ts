/** The app layer's public surface: the factory, the request memo and the API types. */
export { createRosterApp } from "./roster-app.ts";
export { createRequestMemo, type RequestMemo } from "./request-memo.ts";
export type * from "./types.ts";
