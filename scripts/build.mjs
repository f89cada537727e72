// Build: tsc emits the library (dist/, with .d.ts) and esbuild bundles the CLI into one file
// (dist/cli.js) so a cached `hpauth token` loads one module instead of hundreds.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
  stdio: "inherit",
});
await build({
  // entry.ts runs the CLI; main.ts only exports it (so tests can import main() without starting a process).
  entryPoints: ["src/cli/entry.ts"],
  outfile: "dist/cli.js",
  bundle: true,
  splitting: false,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  // Lazily imported command modules stay in the bundle; dynamic import() of them is kept as code-split-free chunks.
  banner: {
    js: "import { createRequire as __hpauthCreateRequire } from 'node:module'; const require = __hpauthCreateRequire(import.meta.url);",
  },
});
