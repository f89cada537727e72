/** `hpauth doctor`: definition. The runner is ./doctor.ts, loaded lazily. */
import { defineCommand, parsePositive } from "../command.js";
import type { DoctorOptions } from "./doctor.js";

export const doctor = defineCommand<DoctorOptions>({
  name: "doctor",
  summary: "Check a profile's setup: config, store, secrets, network (DNS, TCP, TLS, proxy), clock, token",
  examples: [
    "hpauth doctor -p aruba",
    "hpauth doctor --json | jq '.checks[] | select(.status != \"pass\")'",
    "HTTPS_PROXY=http://proxy.corp:3128 hpauth doctor -p gl",
  ],
  configure: (cmd) => {
    cmd.option("--timeout <seconds>", "per network check (default 10)", parsePositive("--timeout")).addHelpText(
      "after",
      `
Each check passes, warns or fails, and says what to do. Nothing secret is printed, no token is requested or
refreshed (an Aruba login budget is never spent): the network checks reach the identity and API origins the way
a token request would (proxy, CA), and read the server's Date header for the clock check.
Exit status: 0 when nothing failed (warnings allowed), 7 when a check failed; --json prints the whole report on
stdout either way.`,
    );
  },
  options: ({ global, flags }) => ({
    ...global,
    ...(typeof flags.timeout === "number" ? { timeoutSeconds: flags.timeout } : {}),
  }),
  load: async () => (await import("./doctor.js")).runDoctor,
});
