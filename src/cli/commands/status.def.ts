/** `hpauth status`: definition. The runner is ./status.ts, loaded lazily. */
import { defineCommand } from "../command.js";
import type { StatusOptions } from "../options.js";

export const status = defineCommand<StatusOptions>({
  name: "status",
  summary: "Show every profile: token state, time left, refresh-token age, warnings (no network)",
  examples: ["hpauth status", "hpauth status --json | jq '.profiles[] | .state'"],
  options: ({ global }) => global,
  load: async () => (await import("./status.js")).runStatus,
});
