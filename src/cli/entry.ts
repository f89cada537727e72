/**
 * The process entry bundled into dist/cli.js (bin/hpauth.js imports it). Kept apart from main.ts so tests can
 * import main() without running the CLI. SIGINT/SIGTERM abort `io.signal`; a second Ctrl-C exits at once.
 */
import { ExitCode, HpauthError } from "../engine/errors.js";
import { main } from "./main.js";

const controller = new AbortController();
let signalled = false;
const onSignal = (sig: NodeJS.Signals) => {
  if (signalled) process.exit(ExitCode.CANCELLED);
  signalled = true;
  controller.abort(new HpauthError("CANCELLED", `Cancelled (${sig})`));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// The reader of stdout went away (`hpauth request --paginate | head -1`): it has all it wanted, so end quietly, as
// a Unix filter does, instead of an unhandled EPIPE's stack trace (Node ignores SIGPIPE, so the write fails instead).
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(ExitCode.OK);
  throw e;
});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  stdinIsTTY: process.stdin.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
  env: process.env,
  signal: controller.signal,
});
// A command interrupted mid-work throws CANCELLED (→ 130); one that returns 0 after a signal treated it as its normal
// end (`emulate` stopped by SIGTERM from docker stop or a CI teardown) or finished what it had started.
const exitCode = code;
// Exit explicitly: keep-alive sockets or a lingering timer in a dependency must not hold a finished command open.
// Wait for stdout to drain first so a piped token is never cut short.
process.stdout.write("", () => process.exit(exitCode));
