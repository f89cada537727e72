/** Human-readable times and durations for messages and tables. */

import { rfc3339 } from "../engine/dates.js";
import { formatDuration } from "../engine/duration.js";

/** `2025-06-01 14:30:00 UTC (in 12 min)`. */
export function formatWhen(d: Date, now = Date.now()): string {
  const text = rfc3339(d);
  if (!text) return "an unknown time";
  const iso = `${text.slice(0, 19).replace("T", " ")} UTC`;
  const s = Math.round((d.getTime() - now) / 1000);
  if (s <= 0) return iso;
  return `${iso} (in ${formatDuration(s)})`;
}

// One duration format for the engine's messages and the CLI's tables: the engine owns it.
// RFC 3339 for --json output: the engine owns it (safe for out-of-range instants).
export { formatDuration, rfc3339 };
