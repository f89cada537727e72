/**
 * Progress for people at a terminal: one transient line on stderr ("Signing in to …"), replaced in place and cleared
 * before a result, a warning or an error is printed. Never on stdout, never when stderr is not a terminal.
 * Kept apart from context.ts so main.ts can clear it without loading the engine.
 */
import type { CommandIO } from "./io.js";
import type { GlobalOptions } from "./options.js";

const shown = new WeakSet<CommandIO>();

/** Whether progress lines are wanted: stderr is a terminal, and neither --quiet nor --verbose (which prints every event instead). */
export function progressEnabled(options: GlobalOptions, io: CommandIO): boolean {
  return io.stderrIsTTY && !options.quiet && !options.verbose;
}

/** Shows `text` in place of the previous progress line. */
export function showProgress(io: CommandIO, text: string): void {
  io.stderr.write(`${shown.has(io) ? "\r\x1b[2K" : ""}${text}`);
  shown.add(io);
}

/** Removes the progress line, if any (before a result, a warning or an error). */
export function clearProgress(io: CommandIO): void {
  if (!shown.delete(io)) return;
  io.stderr.write("\r\x1b[2K");
}
