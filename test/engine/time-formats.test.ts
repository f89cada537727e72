/**
 * The one duration format of every message (src/engine/duration.ts) and the one timestamp format of `--json`
 * (src/engine/dates.ts), at the edges where a unit changes or an instant stops being printable.
 */
import { describe, expect, it } from "vitest";
import { clampTimeMs, isTimeMs, MAX_TIME_MS, rfc3339 } from "../../src/engine/dates.js";
import { formatDuration, formatMs } from "../../src/engine/duration.js";

describe("formatDuration", () => {
  it.each<[number, string]>([
    // Milliseconds below a second, never "0ms" for something that took time.
    [0.0001, "1ms"],
    [0.001, "1ms"],
    [0.0015, "2ms"],
    [0.25, "250ms"],
    [0.999, "999ms"],
    // 0.9995 s rounds to 1000 ms: written as a second instead.
    [0.9995, "1s"],
    [1, "1s"],
    // Tenths below ten seconds, unless they round to a whole second.
    [1.04, "1s"],
    [1.05, "1.1s"],
    [1.5, "1.5s"],
    [9.94, "9.9s"],
    [9.95, "10s"],
    [9.96, "10s"],
    [10.4, "10s"],
    [59.4, "59s"],
    // 59.5 s rounds to a minute.
    [59.5, "1m"],
    [60, "1m"],
    [61, "1m 1s"],
    [150, "2m 30s"],
    [3599, "59m 59s"],
    [3600, "1h"],
    [3660, "1h 1m"],
    [3659, "1h"],
    [7199, "1h 59m"],
    [86399, "23h 59m"],
    [86400, "1d"],
    [86400 + 3599, "1d"],
    [86400 + 3600, "1d 1h"],
    [3 * 86400 + 4 * 3600 + 59 * 60, "3d 4h"],
    [400 * 86400, "400d"],
    // Nothing, or less than nothing (a deadline already passed): zero seconds.
    [0, "0s"],
    [-0.5, "0s"],
    [-1.5, "0s"],
    [-5, "0s"],
    [-90, "0s"],
  ])("%s s → %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it("no number, no duration", () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
      expect(formatDuration(v)).toBe("-");
  });

  it("formatMs is the same format, from milliseconds", () => {
    expect(formatMs(250)).toBe("250ms");
    expect(formatMs(1500)).toBe("1.5s");
    expect(formatMs(150_000)).toBe("2m 30s");
    expect(formatMs(Number.NaN)).toBe("-");
  });
});

describe("instants", () => {
  it("isTimeMs: a finite epoch-ms number from 1970 to the last millisecond of 9999", () => {
    expect(MAX_TIME_MS).toBe(Date.parse("9999-12-31T23:59:59.999Z"));
    for (const ok of [0, 1, 1_700_000_000_000, MAX_TIME_MS]) expect(isTimeMs(ok), String(ok)).toBe(true);
    for (const bad of [-1, MAX_TIME_MS + 1, 1e20, Number.NaN, Number.POSITIVE_INFINITY, "1700000000000", null]) {
      expect(isTimeMs(bad), String(bad)).toBe(false);
    }
  });

  it("clampTimeMs bounds any number into the printable range", () => {
    expect(clampTimeMs(-1)).toBe(0);
    expect(clampTimeMs(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(clampTimeMs(Number.NaN)).toBe(0);
    expect(clampTimeMs(1e23)).toBe(MAX_TIME_MS);
    expect(clampTimeMs(Number.POSITIVE_INFINITY)).toBe(MAX_TIME_MS);
    expect(clampTimeMs(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(clampTimeMs(MAX_TIME_MS)).toBe(MAX_TIME_MS);
  });

  it("rfc3339: UTC to the second, down by default, up when asked", () => {
    const t = Date.UTC(2025, 5, 1, 14, 30, 0);
    expect(rfc3339(t)).toBe("2025-06-01T14:30:00Z");
    expect(rfc3339(new Date(t))).toBe("2025-06-01T14:30:00Z");
    expect(rfc3339(t + 999)).toBe("2025-06-01T14:30:00Z");
    expect(rfc3339(t + 999, "down")).toBe("2025-06-01T14:30:00Z");
    expect(rfc3339(t, "up")).toBe("2025-06-01T14:30:00Z");
    expect(rfc3339(t + 1, "up")).toBe("2025-06-01T14:30:01Z");
    expect(rfc3339(0)).toBe("1970-01-01T00:00:00Z");
  });

  it("rfc3339: the last second of 9999 even rounding up; nothing for what is no printable instant", () => {
    expect(rfc3339(MAX_TIME_MS)).toBe("9999-12-31T23:59:59Z");
    expect(rfc3339(MAX_TIME_MS, "up")).toBe("9999-12-31T23:59:59Z");
    expect(rfc3339(MAX_TIME_MS - 999, "up")).toBe("9999-12-31T23:59:59Z");
    for (const bad of [-1, MAX_TIME_MS + 1, 1e23, Number.NaN]) {
      expect(rfc3339(bad)).toBeUndefined();
      expect(rfc3339(new Date(bad))).toBeUndefined();
    }
  });
});
