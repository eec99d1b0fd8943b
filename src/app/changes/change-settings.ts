/** The settings of the history and the change feed and their defaults; src/config.ts reads them from the environment. */

export interface ChangeSettings {
  /** ROSTER_CHANGE_READERS: a group whose (transitive) members receive every change; undefined: only administrators do. */
  readonly changeReadersGroupId: string | undefined;
  /** ROSTER_CHANGE_CHECKPOINT_INTERVAL_MS: the longest a WatchChanges stream goes without a message. */
  readonly checkpointIntervalMs: number;
  /** ROSTER_HISTORY_RETENTION_DAYS: how long records are kept; 0 keeps them forever. */
  readonly historyRetentionDays: number;
}

/** The defaults of the settings. */
export const defaultChangeSettings: ChangeSettings = Object.freeze({
  changeReadersGroupId: undefined,
  checkpointIntervalMs: 5_000,
  historyRetentionDays: 400,
});
