/** Plain-text tables and colours for humans (colour only on a TTY and without --no-color / NO_COLOR). */
import type { CommandIO } from "./io.js";
import type { GlobalOptions } from "./options.js";

export { formatDuration, formatWhen } from "./time.js";

export function useColor(options: GlobalOptions, io: CommandIO, stream: "stdout" | "stderr" = "stdout"): boolean {
  if (!options.color || io.env.NO_COLOR !== undefined) return false;
  const s = io[stream] as { isTTY?: boolean };
  return s.isTTY === true;
}

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

export function painter(enabled: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39) };
}

const ANSI = /\x1b\[[0-9;]*m/g;
const width = (s: string) => s.replace(ANSI, "").length;

/** Left-aligned columns separated by two spaces; the header row is bold when colours are on. */
export function table(header: string[], rows: string[][], paint: Paint = painter(false)): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - width(c))))
      .join("  ")
      .trimEnd();
  return `${[paint.bold(line(header)), ...rows.map(line)].join("\n")}\n`;
}
