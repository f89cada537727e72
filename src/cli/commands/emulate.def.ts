/** `hpauth emulate`: definition (flags → RunEmulateOptions). The runner is ./emulate.ts, loaded lazily. */
import { defineCommand, parsePort } from "../command.js";
import type { RunEmulateOptions } from "./emulate.js";

export const emulate = defineCommand<RunEmulateOptions>({
  name: "emulate",
  summary:
    "Run the identity services (the five of the seeds and the GreenLake platform) and their APIs locally (with a clock and fault injection)",
  globals: ["output", "config"],
  examples: [
    "hpauth emulate",
    "hpauth emulate --json --port 9400",
    "hpauth emulate --tls --json   # HTTPS; the ready line's caFile is the CA to trust",
    "hpauth emulate --config emulator.toml",
  ],
  configure: (cmd) => {
    cmd
      .option("--host <addr>", "interface to bind (default 127.0.0.1)")
      .option("--port <n>", "admin port; providers take the next six (default: free ports)", parsePort)
      .option("--techpulse-expires-in-ms", "answer TechPulse expires_in in milliseconds, like the seed's sample")
      .option("--revoke-family-on-reuse", "revoke a refresh-token family when an old refresh token is replayed")
      .option(
        "--tls",
        "serve HTTPS with a certificate from a CA made for this run (its file: caFile in the ready line)",
      )
      .addHelpText(
        "after",
        `
With --json, one line on stdout once listening: {"providers": {"<id>": {"baseUrl": …, credentials…}}, "adminUrl": …}
(with --tls also "caFile": the CA's PEM file, for a profile's ca_file or NODE_EXTRA_CA_CERTS).
--config names a JSON/TOML/YAML file of emulator options (top level or an [emulator] table; see docs/emulator.md).`,
      );
  },
  options: ({ global, flags }) => ({
    json: global.json,
    verbose: global.verbose,
    ...(typeof flags.host === "string" ? { host: flags.host } : {}),
    ...(typeof flags.port === "number" ? { port: flags.port } : {}),
    // Emulator options may sit in the hpauth config file (an [emulator] table) or in a file of their own.
    ...(global.config ? { config: global.config } : {}),
    ...(flags.techpulseExpiresInMs === true ? { techpulseExpiresInMillis: true } : {}),
    ...(flags.revokeFamilyOnReuse === true ? { revokeFamilyOnRefreshReuse: true } : {}),
    ...(flags.tls === true ? { tls: true } : {}),
  }),
  load: async () => (await import("./emulate.js")).runEmulate,
});
