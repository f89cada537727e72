/** Wires `hpauth login` to the interactive-login engineer's command module (src/cli/commands/login.ts). */
import type { CommandIO } from "../io.js";
import type { LoginOptions } from "../options.js";
import { runLogin } from "./login.js";

export async function runLoginCommand(options: LoginOptions, io: CommandIO): Promise<number> {
  return runLogin(options as Parameters<typeof runLogin>[0], io);
}
