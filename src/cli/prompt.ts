/**
 * Terminal questions for `profiles add`: one line each on stderr, the typed answer checked at once and the question
 * asked again with the reason; secrets read without echo; Ctrl-C, Ctrl-D or a signal end the interview as CANCELLED
 * (exit 130, "Cancelled"), never as a crash. node:readline reads the line (history, editing); it has no silent mode,
 * so a secret's echo goes to mute-stream (npm's own, what `npm login` uses) instead of the terminal.
 */
import { createInterface } from "node:readline";
import MuteStream from "mute-stream";
import { HpauthError } from "../engine/errors.js";
import type { CommandIO } from "./io.js";

export interface AskOptions {
  /** Shown as `[default]` and taken for an empty answer. */
  default?: string;
  /** Returns why the answer is refused (the question is then asked again), or undefined to accept it. */
  validate?: (answer: string) => string | undefined;
  /** An empty answer is accepted (returned as ""), unless there is a default. */
  optional?: boolean;
}

export interface Prompter {
  ask(question: string, options?: AskOptions): Promise<string>;
  /** Reads a secret without echo; "" when the user just presses Enter. */
  secret(question: string): Promise<string>;
}

const cancelled = (why?: string) => new HpauthError("CANCELLED", why ? `Cancelled (${why})` : "Cancelled");

/** Reads one line from the terminal; `silent` hides what is typed. */
function readLine(io: CommandIO, prompt: string, silent: boolean): Promise<string> {
  if (io.signal.aborted) return Promise.reject(cancelled());
  const out = new MuteStream();
  out.isTTY = true;
  out.pipe(io.stderr, { end: false });
  const rl = createInterface({ input: io.stdin, output: out as unknown as NodeJS.WritableStream, terminal: true });
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      io.signal.removeEventListener("abort", onAbort);
      // The line was typed blind: end it on screen ourselves (the muted stream swallowed readline's newline).
      if (silent) {
        out.unmute();
        io.stderr.write("\n");
      }
      rl.close();
      out.end();
      fn();
    };
    const onAbort = () => finish(() => reject(cancelled()));
    io.signal.addEventListener("abort", onAbort, { once: true });
    rl.on("line", (line) => finish(() => resolve(line)));
    // Ctrl-C in a terminal reaches readline as a key, not as a signal.
    rl.on("SIGINT", () => finish(() => reject(cancelled())));
    // Ctrl-D on an empty line, or the input ended.
    rl.on("close", () => finish(() => reject(cancelled("end of input"))));
    rl.setPrompt(prompt);
    rl.prompt();
    if (silent) out.mute();
  });
}

export function terminalPrompter(io: CommandIO): Prompter {
  return {
    async ask(question, options = {}) {
      const def = options.default;
      for (;;) {
        const raw = (await readLine(io, `${question}${def ? ` [${def}]` : ""}: `, false)).trim();
        const answer = raw || def || "";
        if (answer === "" && options.optional) return "";
        const why = answer === "" ? "an answer is required" : options.validate?.(answer);
        if (why === undefined) return answer;
        io.stderr.write(`  ${why}\n`);
      }
    },
    async secret(question) {
      return readLine(io, `${question} (not shown): `, true);
    },
  };
}
