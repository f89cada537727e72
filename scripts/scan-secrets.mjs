#!/usr/bin/env node
/**
 * scan-secrets.mjs <file>: scans a captured log of a whole test run (`vitest run 2>&1 | tee <file>`) for secrets:
 *   - the emulator's default demo client secrets and passwords (read from the built emulator: dist/emulator),
 *   - JWT-shaped strings (`eyJ….eyJ….…`), `Bearer <long token>`, Basic credentials,
 *   - credential-named fields with a value (`client_secret=…`, `"refresh_token": "…"`, `csrftoken=…`, `session=…`).
 * Exits 1 listing where each hit is (line, kind, fingerprint: first 4 chars + length — never the value), 0 when
 * clean, 2 on a usage error (no file, no build). `--emulator <module>` loads the emulator from elsewhere (tests).
 *
 * The emulator draws fresh random credentials on every start, so the demo values read here are those of a fresh
 * start and only match a log if credentials were pinned; the shape rules are what catches a leaked token or secret
 * of any run. Hand-rolled (no dependency): a few regular expressions over one file.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const MASKED = /^\[?(redacted|masked|\*+|…|<[^>]*>)/i;
/** `password: passwordCommand for profile …`: a field name where a value would be, not a secret. */
const FIELD_NAME = /^(?:[a-z]+(?:[A-Z][a-z]+)+|[a-z]+(?:_[a-z]+)+)$/;

/** Shapes of credentials; `group` is the secret part of the match. */
const SHAPES = [
  { kind: "JWT-shaped string", re: /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, group: 0 },
  { kind: "Bearer token", re: /\bBearer\s+([A-Za-z0-9._~+/=-]{20,})/gi, group: 1 },
  { kind: "Basic credentials", re: /\bBasic\s+([A-Za-z0-9+/]{16,}={0,2})(?![A-Za-z0-9+/=])/g, group: 1 },
  { kind: "cookie value", re: /\b(?:session|csrftoken)=([^;\s"'&,\\[\]]{12,})/gi, group: 1 },
  {
    kind: "credential field",
    re: /\b(?:access_token|refresh_token|id_token|client_secret|clientSecret|password|auth_code|accessToken|refreshToken)["']?\s*[:=]\s*["']?([A-Za-z0-9._~+/=%-]{16,})/g,
    group: 1,
  },
];

export function fingerprint(value) {
  return `${value.slice(0, 4)}…(${value.length} chars)`;
}

/** The demo credentials of a freshly started built emulator (port 0, closed at once). */
export async function demoSecrets(distEmulator) {
  const { startEmulator } = await import(distEmulator);
  const emu = await startEmulator({ port: 0 });
  try {
    const out = [];
    for (const [provider, info] of Object.entries(emu.providers)) {
      for (const field of ["clientSecret", "password"]) {
        const v = info[field];
        if (typeof v === "string" && v.length >= 8) out.push({ kind: `${provider} ${field}`, value: v });
      }
    }
    return out;
  } finally {
    await emu.close();
  }
}

/** Hits in `text` (ANSI colours stripped first: vitest colours its output, which can split a token). */
export function scanText(text, known = []) {
  const lines = text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "").split("\n");
  const hits = [];
  lines.forEach((line, i) => {
    for (const { kind, value } of known) {
      if (line.includes(value)) hits.push({ line: i + 1, kind, fingerprint: fingerprint(value) });
    }
    for (const s of SHAPES) {
      for (const m of line.matchAll(s.re)) {
        const value = m[s.group] ?? "";
        if (!value || MASKED.test(value) || FIELD_NAME.test(value)) continue;
        hits.push({ line: i + 1, kind: s.kind, fingerprint: fingerprint(value) });
      }
    }
  });
  return hits;
}

async function cli(argv) {
  const args = [...argv];
  let emulator = new URL("../dist/emulator/index.js", import.meta.url).href;
  const at = args.indexOf("--emulator");
  if (at >= 0) {
    emulator = pathToFileURL(resolve(args[at + 1] ?? "")).href;
    args.splice(at, 2);
  }
  const file = args[0];
  if (!file || args.length > 1 || file === "-h" || file === "--help") {
    process.stderr.write("usage: node scripts/scan-secrets.mjs [--emulator <module>] <captured-test-log>\n");
    return 2;
  }
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    process.stderr.write(`scan-secrets: cannot read ${file}: ${e.code ?? e.message}\n`);
    return 2;
  }
  let known;
  try {
    known = await demoSecrets(emulator);
  } catch (e) {
    process.stderr.write(`scan-secrets: cannot load the built emulator (run \`npm run build\` first): ${e.message}\n`);
    return 2;
  }
  const hits = scanText(text, known);
  if (hits.length === 0) {
    process.stdout.write(`scan-secrets: ${file}: clean (${text.length} bytes, ${known.length} demo secrets)\n`);
    return 0;
  }
  process.stderr.write(`scan-secrets: ${file}: ${hits.length} possible secret(s):\n`);
  for (const h of hits) process.stderr.write(`  line ${h.line}: ${h.kind} ${h.fingerprint}\n`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await cli(process.argv.slice(2));
}
