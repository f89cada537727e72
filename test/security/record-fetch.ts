/**
 * Preloaded (`node --import`) into the CLI child processes of no-secrets.test.ts, bundled by esbuild at test time:
 * wraps globalThis.fetch so every secret the child sends or receives (client secrets, passwords, tokens, Aruba's
 * session cookie and CSRF value, authorization codes) is appended to the file named by HPAUTH_TEST_WIRE_LOG. The
 * test then knows exactly which values must not appear in anything the child printed. The engine's default runtime
 * calls globalThis.fetch late, so the wrapper sees every request without changing what the CLI does.
 */
import { appendFileSync } from "node:fs";
import { recordingFetch } from "./scanner.js";

const out = process.env.HPAUTH_TEST_WIRE_LOG;
if (out) {
  // Not passed on to grandchildren (secret commands): they have no fetch worth recording.
  delete process.env.HPAUTH_TEST_WIRE_LOG;
  delete process.env.NODE_OPTIONS;
  globalThis.fetch = recordingFetch((s) => {
    appendFileSync(out, `${JSON.stringify(s)}\n`, { mode: 0o600 });
  }, globalThis.fetch.bind(globalThis));
}
