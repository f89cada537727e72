/** `hpauth inspect`: definition. The runner is ./inspect.ts (jose, the engine), loaded lazily. */
import { defineCommand } from "../command.js";
import type { InspectOptions } from "../options.js";

export const inspect = defineCommand<InspectOptions>({
  name: "inspect",
  summary: "Decode the current token (JWT header, claims, expiry; Identity zip_authorities). Never prints the token",
  examples: ["hpauth inspect -p identity", "hpauth token -p gl | hpauth inspect --token -"],
  configure: (cmd) => {
    cmd.option("--token <value>", "decode this token instead; `-` reads it from stdin");
  },
  options: ({ global, flags }) => ({
    ...global,
    ...(typeof flags.token === "string" ? { token: flags.token } : {}),
  }),
  load: async () => (await import("./inspect.js")).runInspect,
});
