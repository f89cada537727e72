/**
 * Injected IO for commands (the GitHub CLI way): a command is a function of typed options plus this.
 * Tests pass captured buffers; main.ts passes the process's streams.
 */
import type { Readable, Writable } from "node:stream";

export interface CommandIO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  /** Whether stdin / stderr are terminals (prompts, spinners and colours only on a TTY). */
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM; long waits (browser, emulator) listen to it and clean up. */
  signal: AbortSignal;
}

/** A command returns its exit code; failures are thrown as HpauthError and mapped once, in main.ts. */
export type Command<O> = (options: O, io: CommandIO) => Promise<number>;
