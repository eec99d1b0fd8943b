/**
 * The logical clock of the one-member replica set: the cluster time every
 * reply carries (`$clusterTime`), the time stamped on every commit (its
 * `operationTime`, the `clusterTime` of its change events), and the
 * high-water mark idle change streams report. MongoDB's rules, kept exactly:
 * commit times strictly increase; the clock never goes back, also across
 * restarts (it starts from the persisted time); it advances with the wall
 * clock while idle (mongod's periodic no-op writer), and a time it has handed
 * out is never handed out again as a commit time, so "everything up to T" is
 * final once T has been reported.
 */
import { Timestamp } from "bson";

export interface ClusterClock {
  /** The current cluster time: at least every commit time and every time handed out before. */
  now(): Timestamp;
  /** A new commit time, strictly greater than anything `now` or `tick` returned before. */
  tick(): Timestamp;
  /** Moves the clock to at least `time` (gossip from a client's `$clusterTime`, or replay). */
  advance(time: Timestamp): void;
  /** The greatest time handed out so far (persisted so a restart continues after it). */
  last(): Timestamp;
}

/** `a` compared with `b` as MongoDB orders Timestamps (seconds, then increment). */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  return a.i === b.i ? 0 : a.i < b.i ? -1 : 1;
}

const maxIncrement = 0xffff_ffff;

export function createClusterClock(start?: Timestamp, wallClock: () => number = Date.now): ClusterClock {
  let seconds = start?.t ?? 0;
  let increment = start?.i ?? 0;

  const wallSeconds = (): number => Math.floor(wallClock() / 1000);

  return {
    now() {
      const wall = wallSeconds();
      if (wall > seconds) {
        seconds = wall;
        increment = 0;
      }
      return new Timestamp({ t: seconds, i: increment });
    },
    tick() {
      const wall = wallSeconds();
      if (wall > seconds) {
        seconds = wall;
        increment = 1;
      } else if (increment === maxIncrement) {
        // 2^32 commits in one second: borrow the next second, as mongod does.
        seconds++;
        increment = 1;
      } else {
        increment++;
      }
      return new Timestamp({ t: seconds, i: increment });
    },
    advance(time) {
      if (time.t > seconds || (time.t === seconds && time.i > increment)) {
        seconds = time.t;
        increment = time.i;
      }
    },
    last: () => new Timestamp({ t: seconds, i: increment }),
  };
}
