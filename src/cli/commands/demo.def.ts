/** `hpauth demo`: definition. The runner is ./demo.ts (the emulator, the engine), loaded lazily. */
import { defineCommand } from "../command.js";
import type { DemoOptions } from "../options.js";

export const demo = defineCommand<DemoOptions>({
  name: "demo",
  summary: "Run every provider's flow against a built-in emulator: no configuration, nothing written",
  // No config file, no profile, tokens in memory: only the output options apply.
  globals: ["output"],
  examples: ["hpauth demo", "hpauth demo --json"],
  options: ({ global }) => global,
  load: async () => (await import("./demo.js")).runDemo,
});
