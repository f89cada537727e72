/** `hpauth request`: definition (flags, help, examples). The runner is ./request.ts, loaded lazily. */
import { defineCommand } from "../command.js";
import type { RequestOptions } from "./request.js";

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export const request = defineCommand<RequestOptions>({
  name: "request",
  summary: "Call the profile's API with a valid token (401 → one refresh, one retry); the body on stdout",
  examples: [
    "hpauth request -p gl /api/v1/storage-systems",
    "hpauth request -p aruba '/monitoring/v2/aps?limit=100' --paginate | jq '.aps[].name'",
    "hpauth request -p glp '/devices/v1/devices?limit=100' --paginate | jq -r '.items[].serialNumber'",
    "hpauth request -p aruba -X POST /configuration/v2/groups -d @group.json",
    "echo '{\"startIndex\":0}' | hpauth request -p tp /analytics/v1/reports/hwinv/deviceType/type/graph -d @-",
    "hpauth request -p gl -i /api/v1/storage-systems   # status line and headers first",
  ],
  configure: (cmd) => {
    cmd
      .argument("<path-or-url>", "a path on the profile's API base (api_base_url), or a URL on that origin")
      .option("-X, --method <method>", "HTTP method (default GET, or POST with -d)")
      .option("-d, --data <data>", "request body: DATA as is, @FILE, or @- for stdin (JSON gets a JSON content type)")
      .option("-H, --header <line>", "request header 'Name: value' (repeatable; not Authorization)", collect)
      .option("-i, --include", "print the status line and response headers before the body")
      .option(
        "--paginate",
        "follow the API's paging (offset/limit: GreenLake, Aruba; startIndex/count: TechPulse) and print every page",
      )
      .addHelpText(
        "after",
        `
The body goes to stdout: pretty-printed JSON on a terminal, the bytes as they came otherwise. Exit status 6 when
the API's final answer is an HTTP error status (4xx/5xx; the body is still printed, with any token masked out).
A refused token (401) is renewed once and the call sent once more; its answer is final.
`,
      );
  },
  options: ({ global, flags, args }) => ({
    ...global,
    target: args[0] ?? "",
    ...(typeof flags.method === "string" ? { method: flags.method } : {}),
    ...(typeof flags.data === "string" ? { data: flags.data } : {}),
    ...(Array.isArray(flags.header) ? { headers: flags.header as string[] } : {}),
    include: flags.include === true,
    paginate: flags.paginate === true,
  }),
  load: async () => (await import("./request.js")).runRequest,
});
