/** `hpauth profiles list|show|add|remove`: definition. The runner is ./profiles.ts, loaded lazily. */
import { defineCommand, examplesHelp } from "../command.js";
import type { ProfilesOptions } from "../options.js";

const ACTIONS = new Set(["list", "show", "add", "remove"]);

export const profiles = defineCommand<ProfilesOptions>({
  name: "profiles",
  summary: "List, show, add or remove profiles in the config file",
  examples: [
    "hpauth profiles list",
    "hpauth profiles show work",
    "hpauth profiles add work                   # asks for the fields the provider needs",
    "hpauth profiles add gl --provider greenlake --client-id abc --client-secret-env GL_SECRET",
    "hpauth profiles remove work",
  ],
  configure: (cmd) => {
    cmd
      .command("list", { isDefault: true })
      .description("List profiles")
      .addHelpText(
        "after",
        examplesHelp(["hpauth profiles list", "hpauth profiles list --json | jq -r '.profiles[].name'"]),
      );
    cmd
      .command("show <name>")
      .description("Show a profile, secrets masked")
      .addHelpText("after", examplesHelp(["hpauth profiles show work", "hpauth profiles show work --json"]));
    cmd
      .command("add [name]")
      .description("Add or replace a profile (interactive on a TTY, else from flags)")
      .option("--default", "make it the default profile")
      .option(
        "--save-secrets",
        "write secrets typed at the prompt into the file (default: refuse; use *-env / *-command)",
      )
      .option("--non-interactive", "never prompt; take every field from flags and HPAUTH_* variables")
      .addHelpText(
        "after",
        `
Examples:
  $ hpauth profiles add
  $ hpauth profiles add aruba --provider aruba-central --region EU-1 --client-id … --client-secret-env ARUBA_SECRET \\
      --username me@example.com --password-env ARUBA_PASSWORD --customer-id …
`,
      );
    cmd
      .command("remove <name>")
      .alias("rm")
      .description("Remove a profile from the config file (and its stored tokens)")
      .addHelpText("after", examplesHelp(["hpauth profiles remove work", "hpauth -c ./ci.toml profiles rm old"]));
  },
  options: ({ global, flags, args, subcommand }) => ({
    ...global,
    action: (subcommand && ACTIONS.has(subcommand) ? subcommand : "list") as ProfilesOptions["action"],
    ...(args[0] !== undefined ? { name: args[0] } : {}),
    ...(flags.default === true ? { makeDefault: true } : {}),
    ...(flags.saveSecrets === true ? { saveSecrets: true } : {}),
    ...(flags.nonInteractive === true ? { nonInteractive: true } : {}),
  }),
  load: async () => (await import("./profiles.js")).runProfiles,
});
