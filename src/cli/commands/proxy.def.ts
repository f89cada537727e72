/** `hpauth proxy`: definition (flags → RunProxyOptions). The runner is ./proxy.ts, loaded lazily. */
import { defineCommand, parsePort, parsePositive } from "../command.js";
import type { RunProxyOptions } from "./proxy.js";

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export const proxy = defineCommand<RunProxyOptions>({
  name: "proxy",
  summary: "Local reverse proxy per profile that adds the Bearer token (curl, Postman, Python… need no auth code)",
  examples: [
    "hpauth proxy -p aruba                                  # then: curl http://127.0.0.1:PORT/monitoring/v2/aps",
    "hpauth proxy -p aruba -p gl --port 8700 --json         # aruba on 8700, gl on 8701; one JSON ready line",
    "hpauth proxy -p gl --allow 'GET /api/v1/**' --verbose  # read-only, an access log on stderr",
    "curl -s http://127.0.0.1:8700/.hpauth/readyz           # 200 once a token can be had",
  ],
  configure: (cmd) => {
    cmd
      .option("--host <addr>", "interface to bind (default 127.0.0.1; anything else needs --allow-remote)")
      .option("--port <n>", "port of the first profile's listener, N+1 for the next… (default: free ports)", parsePort)
      .option("--allow-remote", "allow a non-loopback --host: everyone who can reach it may use the token")
      .option(
        "--allow <rule>",
        "forward only requests matching 'METHOD /path/glob' (repeatable; 'NAME: METHOD /glob' for one profile; replaces the profile's proxy_allow)",
        collect,
      )
      .option("--allow-file <file>", "allow-list rules, one per line (# comments)")
      .option(
        "--drain-timeout <seconds>",
        "on SIGTERM/SIGINT, wait this long for in-flight requests (default 30)",
        parsePositive("--drain-timeout"),
      )
      .addHelpText(
        "after",
        `
Each profile gets its own listener; requests to it go to the profile's API origin with a valid Bearer token (the
caller's Authorization and Cookie headers are removed). A refused token is renewed once and the request retried once
when its body could be kept (≤ 64 KiB); when no token can be had the answer is 502 with a JSON reason.
A profile's allow-list may also be kept in the config file: proxy_allow = ["GET /monitoring/v2/*", …].
Own endpoints on every listener: /.hpauth/healthz, /.hpauth/readyz (200 when a token can be had), /.hpauth/metrics
(Prometheus). With --json, one line on stdout once all listen:
  {"proxies": {"<profile>": {"url": …, "upstream": …, "healthUrl": …, "metricsUrl": …}}}
See docs/proxy.md.`,
      );
  },
  options: ({ global, flags }) => ({
    ...global,
    ...(typeof flags.host === "string" ? { host: flags.host } : {}),
    ...(typeof flags.port === "number" ? { port: flags.port } : {}),
    ...(flags.allowRemote === true ? { allowRemote: true } : {}),
    ...(Array.isArray(flags.allow) ? { allow: flags.allow as string[] } : {}),
    ...(typeof flags.allowFile === "string" ? { allowFile: flags.allowFile } : {}),
    ...(typeof flags.drainTimeout === "number" ? { drainTimeoutSeconds: flags.drainTimeout } : {}),
  }),
  load: async () => (await import("./proxy.js")).runProxy,
});
