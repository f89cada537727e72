/**
 * The one duration format of every message hpauth prints (engine errors and events, CLI tables): `250ms`, `1.5s`,
 * `15s`, `2m 30s`, `1h 5m`, `3d 4h`. Two units at most; milliseconds below one second, tenths below ten.
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  // Less than nothing (a deadline already passed) is nothing: "0s", never "-0.5s".
  const v = Math.max(0, seconds);
  if (v > 0 && v < 0.9995) return `${Math.max(1, Math.round(v * 1000))}ms`;
  if (v < 9.95 && Math.round(v * 10) % 10 !== 0) return `${Math.round(v * 10) / 10}s`;
  const s = Math.round(v);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ""}`;
  const [big, small, unit] =
    s < 86400
      ? [Math.floor(s / 3600), Math.floor((s % 3600) / 60), ["h", "m"]]
      : [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), ["d", "h"]];
  return `${big}${unit[0]}${small ? ` ${small}${unit[1]}` : ""}`;
}

/** The same, from milliseconds. */
export function formatMs(ms: number): string {
  return formatDuration(ms / 1000);
}
