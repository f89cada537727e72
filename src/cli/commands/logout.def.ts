/** `hpauth logout`: definition. The runner is ./logout.ts, loaded lazily. */
import { defineCommand } from "../command.js";
import type { LogoutOptions } from "../options.js";

export const logout = defineCommand<LogoutOptions>({
  name: "logout",
  summary: "Delete the stored tokens of the profile (or of every profile with --all)",
  examples: ["hpauth logout -p work", "hpauth logout --all"],
  configure: (cmd) => {
    cmd.option("--all", "every stored credential");
  },
  options: ({ global, flags }) => ({ ...global, all: flags.all === true }),
  load: async () => (await import("./logout.js")).runLogout,
});
