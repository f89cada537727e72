/**
 * What a waiting login shows on the terminal: plain lines everywhere, a spinner with the elapsed time only on a TTY,
 * cleared before any other line so the two never interleave, and nothing written to a closed stream.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createProgress, formatElapsed } from "../../src/engine/login/progress.js";

function sink() {
  const s = new PassThrough();
  let text = "";
  s.setEncoding("utf8").on("data", (c: string) => {
    text += c;
  });
  return { s, text: () => text };
}

describe("formatElapsed", () => {
  it("minutes and zero-padded seconds, never negative", () => {
    expect(formatElapsed(0)).toBe("0:00");
    expect(formatElapsed(999)).toBe("0:00");
    expect(formatElapsed(1000)).toBe("0:01");
    expect(formatElapsed(59_999)).toBe("0:59");
    expect(formatElapsed(60_000)).toBe("1:00");
    expect(formatElapsed(61_000)).toBe("1:01");
    expect(formatElapsed(10 * 60_000 + 9_000)).toBe("10:09");
    expect(formatElapsed(-5000)).toBe("0:00");
  });
});

describe("createProgress", () => {
  it("without a TTY: lines only, no spinner, no control characters", async () => {
    const out = sink();
    const p = createProgress(out.s, false, () => 0);
    p.spin("Waiting for the browser");
    p.line("Opened the browser.");
    await new Promise((r) => setTimeout(r, 300));
    p.stop();
    expect(out.text()).toBe("Opened the browser.\n");
  });

  it("on a TTY: the spinner shows the label and elapsed time, is cleared before a line and redrawn after it", async () => {
    const out = sink();
    let now = 1_000_000;
    const p = createProgress(out.s, true, () => now);
    p.spin("Waiting for the browser");
    expect(out.text()).toBe("\r\x1b[2K⠙ Waiting for the browser 0:00");
    now += 65_000;
    p.line("Refused a login response");
    expect(out.text()).toBe(
      "\r\x1b[2K⠙ Waiting for the browser 0:00" +
        "\r\x1b[2K" +
        "Refused a login response\n" +
        "\r\x1b[2K⠹ Waiting for the browser 1:05",
    );
    // The timer redraws on its own, every 120 ms, with the next frame.
    const before = out.text().length;
    await new Promise((r) => setTimeout(r, 400));
    expect(out.text().length).toBeGreaterThan(before);
    expect(out.text().slice(before)).toMatch(/^\r\x1b\[2K[⠸⠼⠴⠦⠧⠇⠏⠋⠙⠹] Waiting for the browser 1:05/);
    p.stop();
    const stopped = out.text();
    expect(stopped.endsWith("\r\x1b[2K")).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(out.text()).toBe(stopped);
    // A line after stop is a plain line: nothing to clear, no redraw.
    p.line("Done.");
    expect(out.text()).toBe(`${stopped}Done.\n`);
  });

  it("spin again restarts the clock under the new label; stop twice clears once", () => {
    const out = sink();
    let now = 0;
    const p = createProgress(out.s, true, () => now);
    p.spin("First");
    now = 30_000;
    p.spin("Second");
    expect(out.text().endsWith("Second 0:00")).toBe(true);
    p.stop();
    const once = out.text();
    p.stop();
    expect(out.text()).toBe(once);
  });

  it("a destroyed or missing output is never written to", () => {
    const out = sink();
    const p = createProgress(out.s, true, () => 0);
    out.s.destroy();
    expect(() => {
      p.spin("x");
      p.line("y");
      p.stop();
    }).not.toThrow();
    const none = createProgress(undefined, true, () => 0);
    expect(() => {
      none.spin("x");
      none.line("y");
      none.stop();
    }).not.toThrow();
  });
});
