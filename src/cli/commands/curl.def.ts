/** `hpauth curl`: definition. The runner is ./curl.ts, loaded lazily. */
import { defineCommand, parseSeconds } from "../command.js";
import type { CurlOptions } from "./curl.js";

export const curl = defineCommand<CurlOptions>({
  name: "curl",
  summary: "Run the system curl with the profile's Authorization header (never in curl's argv)",
  globals: ["config", "profile", "store", "fields"],
  examples: [
    "hpauth curl -p gl -- -sS /api/v1/storage-systems",
    "hpauth curl -p aruba -- -sS --fail-with-body 'https://apigw-eucentral3.central.arubanetworks.com/monitoring/v2/aps'",
    "hpauth curl -p gl -- -sS -X POST -H 'Content-Type: application/json' -d @body.json /api/v1/…",
  ],
  configure: (cmd) => {
    cmd
      .argument("<curl-args...>", "curl's arguments, after `--`")
      .option("--min-ttl <seconds>", "the token must stay valid at least this long", parseSeconds("--min-ttl"))
      .addHelpText(
        "after",
        `
The header reaches curl as a curl config (-K) on its stdin, or in a 0600 temporary file when the curl arguments
read stdin themselves; never in its argv. Every URL must be on the profile's API origin (a /path is completed with
the API base); --location-trusted is refused (with -L curl keeps the header to the original host). curl's stdout,
stderr and exit status are passed through; hpauth's own exit codes apply only when it fails before curl starts.
No 401 retry (use \`hpauth request\`). HPAUTH_CURL names another curl executable.
`,
      );
  },
  options: ({ global, flags, args }) => ({
    ...global,
    args,
    ...(typeof flags.minTtl === "number" ? { minTtl: flags.minTtl } : {}),
  }),
  load: async () => (await import("./curl.js")).runCurl,
});
