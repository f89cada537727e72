/**
 * `hpauth token` and `hpauth header`: definitions (flags, help, examples). The runner is ./token.ts, loaded lazily.
 * Both are parsed without commander when the argv is plain (`fast`), so a cached token never loads it.
 */
import type { Command } from "commander";
import { type CommandDef, defineCommand, type FastFlag, type ParsedCommand, parseSeconds } from "../command.js";
import type { HeaderOptions, TokenOptions } from "../options.js";

const minTtl = parseSeconds("--min-ttl");

/** The flags both share, for commander (configure) and the commander-free parser (fast). */
const FAST: readonly FastFlag[] = [
  { flag: "--min-ttl", key: "minTtl", kind: "value", parse: minTtl },
  { flag: "--force-refresh", key: "forceRefresh", kind: "true" },
];

function configure(cmd: Command): void {
  cmd
    .option("--min-ttl <seconds>", "refresh unless the token stays valid at least this long", minTtl)
    .option("--force-refresh", "get a new token even if the stored one is valid");
}

function options({ global, flags }: ParsedCommand): TokenOptions {
  return {
    ...global,
    forceRefresh: flags.forceRefresh === true,
    ...(typeof flags.minTtl === "number" ? { minTtl: flags.minTtl } : {}),
  };
}

export const token: CommandDef<TokenOptions> = defineCommand<TokenOptions>({
  name: "token",
  summary: "Print a valid access token for the profile (from the store, refreshed, or a new grant)",
  examples: [
    "hpauth token -p aruba",
    "hpauth token --json | jq -r .expires_at",
    "hpauth token --provider greenlake --client-id abc --client-secret-env GL_SECRET",
    'curl -H "Authorization: Bearer $(hpauth token --min-ttl 300)" https://…',
  ],
  configure,
  options,
  fast: FAST,
  load: async () => (await import("./token.js")).runToken,
});

export const header: CommandDef<HeaderOptions> = defineCommand<HeaderOptions>({
  name: "header",
  summary: "Print an HTTP Authorization header line with a valid token",
  examples: ['curl -H "$(hpauth header -p work)" https://…', "hpauth header --json"],
  configure,
  options,
  fast: FAST,
  load: async () => (await import("./token.js")).runHeader,
});
