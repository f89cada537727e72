/** `hpauth git-credential get|store|erase`: definition. The runner is ./git-credential.ts, loaded lazily. */
import type { Command } from "commander";
import { HpauthError } from "../../engine/errors.js";
import { defineCommand, examplesHelp, parseSeconds } from "../command.js";
import type { GitCredentialOptions } from "./git-credential.js";

const AUTH = ["auto", "basic", "bearer"] as const;

function auth(value: string): GitCredentialOptions["auth"] {
  if ((AUTH as readonly string[]).includes(value)) return value as GitCredentialOptions["auth"];
  throw new HpauthError("USAGE", `--auth must be auto, basic or bearer (got "${value}")`);
}

/** --auth with our parser (its message, exit 2) and its values as choices, which shell completion offers. */
function authOption(cmd: Command) {
  const option = cmd
    .createOption("--auth <mode>", "auto (Bearer when git and the server both offer it) | basic | bearer")
    .argParser(auth);
  option.argChoices = [...AUTH];
  return option;
}

export const gitCredential = defineCommand<GitCredentialOptions>({
  name: "git-credential",
  summary: "Git credential helper (optional): the profile's token for Git over HTTPS (get | store | erase)",
  // stdout is git's key=value protocol: no --json (-v and -q still work).
  globals: ["config", "profile", "store", "fields"],
  examples: [
    "git config --global credential.https://git.example.com.helper '!hpauth git-credential -p gl'",
    "printf 'protocol=https\\nhost=git.example.com\\n\\n' | hpauth git-credential get   # host → profile via git_credential",
    "printf 'protocol=https\\nhost=git.example.com\\n\\n' | git credential fill",
  ],
  configure: (cmd) => {
    const shared = (c: typeof cmd) =>
      c
        .option("--git-username <name>", "user name sent with the token as password (default x-access-token)")
        .addOption(authOption(c))
        .option("--min-ttl <seconds>", "the token must stay valid at least this long", parseSeconds("--min-ttl"));
    // git appends the action to the helper's own words (`hpauth git-credential -p gl --git-username bot get`):
    // the flags are taken before the action (here) and after it (on each action, as by hand).
    shared(cmd);
    shared(
      cmd.command("get").description("Answer git's request with username/password = the token (or Bearer)"),
    ).addHelpText(
      "after",
      examplesHelp(["printf 'protocol=https\\nhost=git.example.com\\n\\n' | hpauth git-credential -p gl get"]),
    );
    shared(
      cmd.command("store").description("Nothing to store: hpauth keeps its tokens itself (reads git's input, exit 0)"),
    ).addHelpText("after", examplesHelp(["git credential approve   # git runs `hpauth git-credential store` itself"]));
    shared(
      cmd.command("erase").description("The server refused the token: mark it invalid so the next get renews it"),
    ).addHelpText(
      "after",
      examplesHelp(["git credential reject   # git runs `hpauth git-credential erase` after a 401"]),
    );
    cmd.addHelpText(
      "after",
      `
git runs the helper as \`<helper> get|store|erase\` with key=value lines on stdin (gitcredentials(7)). The profile
is -p (or the profile fields as flags); without them, the config's [git_credential."<host>"] table maps the host
git asks about to a profile. For any other host the helper answers nothing, so git asks its other helpers. A
token is never sent over plain http except to a loopback host. See docs/git.md.
`,
    );
  },
  options: ({ global, flags, subcommand }) => ({
    ...global,
    action: (subcommand ?? "get") as GitCredentialOptions["action"],
    auth: (flags.auth as GitCredentialOptions["auth"] | undefined) ?? "auto",
    ...(typeof flags.gitUsername === "string" ? { gitUsername: flags.gitUsername } : {}),
    ...(typeof flags.minTtl === "number" ? { minTtl: flags.minTtl } : {}),
  }),
  load: async () => (await import("./git-credential.js")).runGitCredential,
});
