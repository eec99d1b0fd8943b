/** The read model's settings (ROSTER_READ_MODEL_*), apart from the model so that configuration loads nothing else. */

export interface ReadModelSettings {
  /** Past this lag (and while the change stream is broken) reads use the database. */
  readonly maxLagMs: number;
  /** How many users' and services' memberships the cache holds at most. */
  readonly cachedMemberships: number;
}

export const defaultReadModelSettings: ReadModelSettings = { maxLagMs: 5_000, cachedMemberships: 1_000_000 };
