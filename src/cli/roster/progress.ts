/**
 * Progress of a long command on stderr: on a terminal, one line redrawn in
 * place (a bar, done/total, percentage, rate, ETA, failures) ten times a
 * second; otherwise (a log file, CI) a plain line every few seconds, so logs
 * stay readable. Either way a last line when the work ends.
 */

export interface ProgressState {
  readonly done: number;
  /** undefined when unknown. */
  readonly total: number | undefined;
  readonly failed: number;
  readonly elapsedMs: number;
}

export interface Progress {
  /** Records how far the work is (cheap: drawing happens on a timer). */
  update(done: number, failed: number): void;
  /** Prints a message on its own line (the bar is redrawn under it). */
  note(text: string): void;
  /** Draws the final state and stops drawing; `total` corrects an estimated total once the work is complete. */
  finish(total?: number): void;
}

export interface ProgressOptions {
  readonly label: string;
  readonly total: number | undefined;
  /** stderr, or a test's stream. */
  readonly stream: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
  /** Draw nothing but notes (--quiet). */
  readonly quiet: boolean;
  /** Between plain lines when the stream is not a terminal. */
  readonly plainIntervalMs?: number;
}

const ttyIntervalMs = 100;
const defaultPlainIntervalMs = 2_000;

export function createProgress(options: ProgressOptions): Progress {
  const started = performance.now();
  const tty = options.stream.isTTY === true;
  let done = 0;
  let failed = 0;
  let total = options.total;
  let finished = false;
  const state = (): ProgressState => ({ done, total, failed, elapsedMs: performance.now() - started });
  const draw = (): void => {
    if (tty) {
      options.stream.write(`\r\x1b[2K${formatProgressBar(options.label, state(), options.stream.columns ?? 80)}`);
    } else {
      options.stream.write(`${options.label}: ${formatProgressLine(state())}\n`);
    }
  };
  const timer = options.quiet ? undefined : setInterval(draw, tty ? ttyIntervalMs : (options.plainIntervalMs ?? defaultPlainIntervalMs));
  timer?.unref();
  return {
    update(nowDone, nowFailed) {
      done = nowDone;
      failed = nowFailed;
    },
    note(text) {
      options.stream.write(tty && !options.quiet && !finished ? `\r\x1b[2K${text}\n` : `${text}\n`);
      if (tty && !options.quiet && !finished) draw();
    },
    finish(finalTotal) {
      if (finished) return;
      finished = true;
      total = finalTotal ?? total;
      clearInterval(timer);
      if (options.quiet) return;
      draw();
      if (tty) options.stream.write("\n");
    },
  };
}

/** "4,500/10,000 rows (45%), 1,234 rows/s, ETA 4s, 12 failed". */
export function formatProgressLine(state: ProgressState): string {
  const rate = state.elapsedMs > 0 ? (state.done * 1000) / state.elapsedMs : 0;
  const parts = [
    state.total === undefined ? `${count(state.done)} rows` : `${count(state.done)}/${count(state.total)} rows (${percent(state)}%)`,
    `${count(Math.round(rate))} rows/s`,
  ];
  if (state.total !== undefined && state.done < state.total)
    parts.push(`ETA ${rate > 0 ? formatSeconds((state.total - state.done) / rate) : "?"}`);
  if (state.total !== undefined && state.done >= state.total) parts.push(`in ${formatSeconds(state.elapsedMs / 1000)}`);
  parts.push(`${count(state.failed)} failed`);
  return parts.join(", ");
}

/** The terminal line: "label [=====>     ] " then the plain line, cut to `columns`. */
export function formatProgressBar(label: string, state: ProgressState, columns: number): string {
  const line = formatProgressLine(state);
  const width = Math.max(10, Math.min(40, columns - label.length - line.length - 6));
  const fraction = state.total === undefined || state.total === 0 ? 0 : Math.min(1, state.done / state.total);
  const filled = Math.round(fraction * width);
  const bar = filled >= width ? "=".repeat(width) : `${"=".repeat(filled)}>${" ".repeat(width - filled - 1)}`;
  return `${label} [${bar}] ${line}`.slice(0, Math.max(0, columns - 1));
}

/** 4s, 1m05s, 2h03m. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function percent(state: ProgressState): number {
  return state.total === undefined || state.total === 0 ? 100 : Math.floor((state.done * 100) / state.total);
}
