/** Human-readable times and durations for messages and tables. */
import { formatDuration } from "../engine/duration.js";

/** `2025-06-01 14:30:00 UTC (in 12 min)`. */
export function formatWhen(d: Date, now = Date.now()): string {
  const iso = `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  const s = Math.round((d.getTime() - now) / 1000);
  if (s <= 0) return iso;
  return `${iso} (in ${formatDuration(s)})`;
}

// One duration format for the engine's messages and the CLI's tables: the engine owns it.
export { formatDuration };
