/**
 * Ctrl-C for a command that should finish what it started: the first SIGINT
 * asks it to stop (`stop`), a second one aborts at once (`abort`).
 *
 * `npm run roster` forwards the terminal's SIGINT to the command, which also
 * gets it from the terminal itself, so one keypress can arrive twice within
 * a few milliseconds: a repeat within `repeatWindowMs` is the same press.
 */
import type { CommandHost } from "./command.ts";

const repeatWindowMs = 300;

/** Installs the handler on `onInterrupt` (the host's Ctrl-C); the returned function removes it. */
export function handleInterrupts(
  onInterrupt: CommandHost["onInterrupt"],
  handlers: { readonly stop: () => void; readonly abort: () => void },
): () => void {
  let first: number | undefined;
  const onSignal = (): void => {
    const now = performance.now();
    if (first === undefined) {
      first = now;
      handlers.stop();
    } else if (now - first > repeatWindowMs) {
      handlers.abort();
    }
  };
  return onInterrupt(onSignal);
}
