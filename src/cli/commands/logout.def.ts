/** `hpauth logout`: definition. The runner is ./logout.ts, loaded lazily. */
import { defineCommand } from "../command.js";
import type { LogoutOptions } from "../options.js";

export const logout = defineCommand<LogoutOptions>({
  name: "logout",
  summary: "Delete the stored tokens of the profile (or of every profile with --all)",
  examples: ["hpauth logout -p work", "hpauth logout --all", "hpauth logout -p aruba --yes   # in a script"],
  configure: (cmd) => {
    cmd
      .option("--all", "every stored credential (login-budget records stay)")
      .option("-y, --yes", "also delete an Aruba Central refresh token without asking (see below)")
      .option("--force", "the same as --yes")
      .addHelpText(
        "after",
        `
An Aruba Central profile's refresh token is what keeps it signed in: without it the next token needs a new login,
and Aruba allows one per client id per 30 minutes. So logging one out asks first on a terminal, and without a
terminal (or with --json) it is refused (exit 2, nothing deleted) unless --yes or --force is given.`,
      );
  },
  options: ({ global, flags }) => ({
    ...global,
    all: flags.all === true,
    ...(flags.yes === true || flags.force === true ? { yes: true } : {}),
  }),
  load: async () => (await import("./logout.js")).runLogout,
});
