/**
 * `hpauth token` and `hpauth header`: definitions (flags, help, examples). The runner is ./token.ts, loaded lazily.
 * Both are parsed without commander when the argv is plain (`fast`), so a cached token never loads it.
 */
import type { Command } from "commander";
import { HpauthError } from "../../engine/errors.js";
import {
  type CommandDef,
  defineCommand,
  type FastFlag,
  type ParsedCommand,
  parsePositive,
  parseSeconds,
} from "../command.js";
import type { HeaderOptions, TokenFormat, TokenOptions } from "../options.js";

const minTtl = parseSeconds("--min-ttl");
const timeout = parsePositive("--timeout");

const TOKEN_FORMATS: readonly TokenFormat[] = ["raw", "json", "header", "az", "exec-credential", "bazel", "env"];

function format(value: string): TokenFormat {
  if ((TOKEN_FORMATS as readonly string[]).includes(value)) return value as TokenFormat;
  throw new HpauthError("USAGE", `--format must be one of ${TOKEN_FORMATS.join(", ")} (got "${value}")`);
}

/** The flags both share, for commander (configure) and the commander-free parser (fast). */
const FAST: readonly FastFlag[] = [
  { flag: "--min-ttl", key: "minTtl", kind: "value", parse: minTtl },
  { flag: "--force-refresh", key: "forceRefresh", kind: "true" },
  { flag: "--timeout", key: "timeout", kind: "value", parse: timeout },
];

/** `token`'s own: the output format (a credential helper's whole interface, so parsed without commander too). */
const TOKEN_FAST: readonly FastFlag[] = [
  ...FAST,
  { flag: "--format", key: "format", kind: "value", parse: format },
  { flag: "--env", key: "env", kind: "value" },
];

function configure(cmd: Command): void {
  cmd
    .option("--min-ttl <seconds>", "refresh unless the token stays valid at least this long", minTtl)
    .option("--force-refresh", "get a new token even if the stored one is valid")
    .option("--timeout <seconds>", "give up after this long, whatever is slow (TIMEOUT, exit 5)", timeout);
}

/**
 * --format parsed by our own `format` (the fast parser's message, exit 2), with its values as the option's choices so
 * that shell completion offers them (commander's `.choices()` would replace the parser and its message).
 */
function formatOption(cmd: Command) {
  const option = cmd.createOption("--format <format>", "output format (default raw)").argParser(format);
  option.argChoices = [...TOKEN_FORMATS];
  return option;
}

function configureToken(cmd: Command): void {
  configure(cmd);
  cmd
    .argument("[helper-command]", "with --format bazel: `get`, as Bazel runs a credential helper (request on stdin)")
    .addOption(formatOption(cmd))
    .option("--env <name>", "with --format env: the variable for the token (default HPAUTH_TOKEN)")
    .addHelpText(
      "after",
      `
Formats (each exactly the format of the tool it is named after; docs/recipes.md has each tool's config):
  raw              the token alone (default)
  json             hpauth's own JSON, as --json: access_token, token_type, expires_at, expires_in, …
  header           Authorization: Bearer …  (as \`hpauth header\`)
  az               as \`az account get-access-token\`: accessToken, expiresOn (local time), expires_on, tokenType
  exec-credential  a Kubernetes ExecCredential (client.authentication.k8s.io/v1, or the apiVersion kubectl
                   asks for in KUBERNETES_EXEC_INFO) for a kubeconfig's users[].user.exec
  bazel            a Bazel credential helper answer {"headers": {"Authorization": […]}, "expires": …};
                   \`hpauth token --format bazel get\` reads Bazel's {"uri": …} request on stdin first
  env              export HPAUTH_TOKEN='…' and HPAUTH_TOKEN_EXPIRES_AT='…' for eval (--env names the first)
`,
    );
}

function options({ global, flags }: ParsedCommand): TokenOptions {
  return {
    ...global,
    forceRefresh: flags.forceRefresh === true,
    ...(typeof flags.minTtl === "number" ? { minTtl: flags.minTtl } : {}),
    ...(typeof flags.timeout === "number" ? { timeout: flags.timeout } : {}),
  };
}

function tokenOptions(parsed: ParsedCommand): TokenOptions {
  const { global, flags, args } = parsed;
  const asked = flags.format as TokenFormat | undefined;
  if (asked !== undefined && asked !== "json" && global.json) {
    throw new HpauthError("USAGE", `--json and --format ${asked} ask for two different outputs`, {
      hint: "--json is --format json; give one of them.",
    });
  }
  const fmt: TokenFormat = asked ?? (global.json ? "json" : "raw");
  const helper = args[0];
  if (helper !== undefined && !(fmt === "bazel" && helper === "get")) {
    throw new HpauthError("USAGE", `hpauth token takes no argument "${helper}"`, {
      hint: "Only `hpauth token --format bazel get` (how Bazel runs a credential helper) takes one.",
    });
  }
  if (flags.env !== undefined && fmt !== "env") {
    throw new HpauthError("USAGE", "--env applies only to --format env");
  }
  return {
    ...options(parsed),
    // --format json is --json, errors included (a JSON error object on stdout).
    json: fmt === "json",
    format: fmt,
    ...(typeof flags.env === "string" ? { envName: flags.env } : {}),
    ...(helper !== undefined ? { helperCommand: helper } : {}),
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
    "hpauth token --timeout 10   # in cron or CI: never hang",
    'eval "$(hpauth token -p gl --format env)"   # HPAUTH_TOKEN, HPAUTH_TOKEN_EXPIRES_AT',
    "hpauth token -p gl --format exec-credential  # for kubectl: users[].user.exec",
    "hpauth token -p gl --format az | jq -r .expires_on",
  ],
  configure: configureToken,
  options: tokenOptions,
  fast: TOKEN_FAST,
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
