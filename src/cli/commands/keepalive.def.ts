/** `hpauth keepalive`: definition. The runner is ./keepalive.ts, loaded lazily. */
import { defineCommand, parsePositive } from "../command.js";
import type { KeepaliveOptions } from "./keepalive.js";

export const keepalive = defineCommand<KeepaliveOptions>({
  name: "keepalive",
  summary: "Refresh stored refresh tokens that would otherwise die unused (Aruba: ~15 days), for cron or a timer",
  examples: [
    "hpauth keepalive --all",
    "hpauth keepalive -p aruba -p techpulse --within 3",
    "hpauth keepalive --all --dry-run --json | jq '.profiles[] | {profile, result}'",
  ],
  configure: (cmd) => {
    cmd
      .option("--all", "every profile in the config file (default: the profile -p or the config selects)")
      .option(
        "--within <days>",
        "refresh a refresh token that would stop working within this many days (default 7)",
        parsePositive("--within"),
      )
      .option("--dry-run", "say what would be refreshed; send nothing, write nothing")
      .addHelpText(
        "after",
        `
A refresh token that is never used can die: Aruba Central's after about 15 days, TechPulse's after 365. Run
\`hpauth keepalive --all\` daily (docs/cli.md has a systemd timer and a cron line): each profile whose refresh
token would stop working within --within days is refreshed, through the same locked, single-flight refresh as
\`hpauth token\`. It never logs in (Aruba's one-login-per-30-minutes budget is not touched): a refresh token that
was refused is reported with what to do. Client-credentials and password providers (GreenLake, HPE Identity, WXP)
have no refresh token: nothing to do. A refresh token of unknown lifetime (a generic oauth2 server's opaque one)
is refreshed on every run.

Each profile is reported: refreshed, not needed (with the date it would be), no refresh token, or failed (with
the reason). Exit 0 when none failed; else the exit code of the first failure (3: a login is needed, 5: network,
server or store). --json prints the whole report on stdout either way.`,
      );
  },
  options: ({ global, flags }) => ({
    ...global,
    all: flags.all === true,
    withinDays: typeof flags.within === "number" ? flags.within : 7,
    dryRun: flags.dryRun === true,
  }),
  load: async () => (await import("./keepalive.js")).runKeepalive,
});
