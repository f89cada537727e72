/** Wires `hpauth emulate` to the emulator engineer's command module (src/cli/commands/emulate.ts). */
import type { CommandIO } from "../io.js";
import type { EmulateOptions } from "../options.js";
import { runEmulate } from "./emulate.js";

export async function runEmulateCommand(options: EmulateOptions, io: CommandIO): Promise<number> {
  return runEmulate(options as Parameters<typeof runEmulate>[0], io);
}
