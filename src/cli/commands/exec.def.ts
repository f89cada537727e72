/** `hpauth exec`: definition. The runner is ./exec.ts, loaded lazily. */
import { defineCommand, parseSeconds } from "../command.js";
import type { ExecOptions } from "./exec.js";

export const exec = defineCommand<ExecOptions>({
  name: "exec",
  summary: "Run a command with a fresh access token in its environment (HPAUTH_TOKEN, or --env VAR)",
  globals: ["config", "profile", "store", "fields"],
  examples: [
    "hpauth exec -p gl --env HPEGL_IAM_TOKEN --min-ttl 3600 -- terraform apply",
    "hpauth exec -p aruba -- python3 inventory.py          # reads os.environ['HPAUTH_TOKEN']",
    "hpauth exec -p gl -- sh -c 'curl -sS -H \"Authorization: Bearer $HPAUTH_TOKEN\" https://…'",
  ],
  configure: (cmd) => {
    cmd
      .argument("<command...>", "the command and its arguments, after `--`")
      .option("--env <name>", "environment variable for the token (default HPAUTH_TOKEN)")
      .option(
        "--min-ttl <seconds>",
        "the token must stay valid at least this long (a run longer than the token needs it)",
        parseSeconds("--min-ttl"),
      )
      .addHelpText(
        "after",
        `
The token is fetched once, before the command starts, and passed in its environment (never its argv), with
HPAUTH_TOKEN_EXPIRES_AT (RFC 3339). stdio is inherited; SIGTERM and SIGHUP are forwarded, and SIGINT when stdin is
not a terminal (on a terminal Ctrl-C reaches the command directly). hpauth exits with the command's status, or
128 + the signal number if a signal ended it; 127 when the command is not found, 126 when it cannot be run.
`,
      );
  },
  options: ({ global, flags, args }) => ({
    ...global,
    command: args,
    ...(typeof flags.env === "string" ? { env: flags.env } : {}),
    ...(typeof flags.minTtl === "number" ? { minTtl: flags.minTtl } : {}),
  }),
  load: async () => (await import("./exec.js")).runExec,
});
