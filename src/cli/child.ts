/**
 * Runs a child process for `hpauth exec` and `hpauth curl` the way a wrapper should: stdio inherited (plus any
 * extra pipes asked for), signals forwarded, the child's exit status returned (128 + the signal number when a
 * signal ended it, as a shell reports it; 127 when the command is not found, 126 when it cannot be run).
 *
 * Signals: SIGTERM and SIGHUP are forwarded. SIGINT is forwarded too, except when hpauth's stdin is a terminal:
 * there Ctrl-C already reaches the whole foreground process group, the child included, and a second copy would
 * make programs that count interrupts (Terraform: the second Ctrl-C abandons the run without cleanup) stop hard.
 * While the child runs, hpauth's own handlers (entry.ts: abort, then exit on a second signal) are set aside: the
 * wrapper stays until the child has exited, so the child is never orphaned.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { constants } from "node:os";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Forwarded = (typeof FORWARDED)[number];

export interface ChildOptions {
  env: NodeJS.ProcessEnv;
  stdio: StdioOptions;
  /** Whether stdin is a terminal (SIGINT is then not forwarded: the terminal sent it to the child already). */
  stdinIsTTY: boolean;
  /** Called once the child exists (e.g. to write to its pipes). */
  onSpawn?: (child: ChildProcess) => void;
  /** Where "command not found" goes. */
  stderr: NodeJS.WritableStream;
}

export function runChild(file: string, args: string[], options: ChildOptions): Promise<number> {
  const saved = new Map<Forwarded, NodeJS.SignalsListener[]>();
  let child: ChildProcess;
  const forward = (sig: NodeJS.Signals) => {
    if (sig === "SIGINT" && options.stdinIsTTY) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const sig of FORWARDED) {
    saved.set(sig, process.listeners(sig) as NodeJS.SignalsListener[]);
    process.removeAllListeners(sig);
    process.on(sig, forward);
  }
  const restore = () => {
    for (const sig of FORWARDED) {
      process.removeListener(sig, forward);
      for (const l of saved.get(sig) ?? []) process.on(sig, l);
    }
  };
  return new Promise<number>((resolve) => {
    child = spawn(file, args, { env: options.env, stdio: options.stdio });
    child.once("error", (e: NodeJS.ErrnoException) => {
      // spawn failed (no exit event follows): the shell's codes.
      const notFound = e.code === "ENOENT";
      options.stderr.write(
        `hpauth: ${notFound ? "command not found" : "cannot run"}: ${file}${notFound ? "" : ` (${e.code ?? e.message})`}\n`,
      );
      resolve(notFound ? 127 : 126);
    });
    child.once("exit", (code, signal) => {
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
    if (child.pid !== undefined) options.onSpawn?.(child);
  }).finally(restore);
}
