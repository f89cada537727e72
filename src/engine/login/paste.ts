/**
 * Paste-back: the user copies the address the browser landed on (or just the code) and pastes it into the
 * terminal. The state in it is checked exactly like a callback's.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

export type Pasted =
  | { kind: "params"; params: URLSearchParams }
  | { kind: "bare-code"; code: string }
  | { kind: "empty" };

/** Reads one pasted line: a full redirect URL, a query string (`code=…&state=…`), or a bare code. */
export function parsePasted(line: string): Pasted {
  let s = line.trim().replace(/^["'<]+|["'>]+$/g, "");
  if (s.length === 0) return { kind: "empty" };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    try {
      const u = new URL(s);
      const params = new URLSearchParams(u.search);
      // Some servers answer in the fragment (response_mode=fragment); take it when the query has nothing.
      if (!params.has("code") && !params.has("error") && u.hash.length > 1) {
        return { kind: "params", params: new URLSearchParams(u.hash.slice(1)) };
      }
      return { kind: "params", params };
    } catch {
      return { kind: "params", params: new URLSearchParams() };
    }
  }
  if (s.startsWith("?") || s.startsWith("#")) s = s.slice(1);
  if (/(^|&)(code|state|error)=/.test(s)) return { kind: "params", params: new URLSearchParams(s) };
  return { kind: "bare-code", code: s };
}

/**
 * Lines from `input` until `onLine` returns true (accepted) or the input ends. Resolves "accepted" or "eof".
 * The interface is closed on return, but the input stream is not destroyed: it is usually the process's stdin.
 */
export function readPastedLines(
  input: Readable,
  onLine: (line: string) => boolean,
  signal: AbortSignal,
): Promise<"accepted" | "eof" | "aborted"> {
  return new Promise((resolve) => {
    const rl = createInterface({ input, terminal: false, crlfDelay: Number.POSITIVE_INFINITY });
    let finished = false;
    const finish = (how: "accepted" | "eof" | "aborted") => {
      if (finished) return;
      finished = true;
      signal.removeEventListener("abort", onAbort);
      rl.close();
      resolve(how);
    };
    const onAbort = () => finish("aborted");
    if (signal.aborted) return finish("aborted");
    signal.addEventListener("abort", onAbort, { once: true });
    rl.on("line", (line) => {
      if (!finished && onLine(line)) finish("accepted");
    });
    rl.on("close", () => finish("eof"));
  });
}
