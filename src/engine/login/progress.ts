/**
 * What the terminal shows while a login waits: plain lines everywhere, plus a spinner with the elapsed time on a
 * TTY (redrawn in place, cleared before any other line is written so the two never interleave).
 */
import type { Writable } from "node:stream";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export interface Progress {
  line(text: string): void;
  /** Starts (or restarts) the spinner; a no-op without a TTY. */
  spin(label: string): void;
  stop(): void;
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function createProgress(output: Writable | undefined, isTTY: boolean, now: () => number): Progress {
  let timer: NodeJS.Timeout | undefined;
  let label = "";
  let started = 0;
  let frame = 0;
  let drawn = false;
  const write = (s: string) => {
    if (output && !output.destroyed && output.writable) output.write(s);
  };
  const clear = () => {
    if (drawn) write("\r\x1b[2K");
    drawn = false;
  };
  const draw = () => {
    frame = (frame + 1) % FRAMES.length;
    write(`\r\x1b[2K${FRAMES[frame]} ${label} ${formatElapsed(now() - started)}`);
    drawn = true;
  };
  return {
    line(text) {
      clear();
      write(`${text}\n`);
      if (timer) draw();
    },
    spin(l) {
      label = l;
      if (!isTTY || !output) return;
      started = now();
      if (timer) clearInterval(timer);
      timer = setInterval(draw, 120);
      timer.unref();
      draw();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      clear();
    },
  };
}
