// Build: tsc emits the library (dist/, with .d.ts; its dist/cli/ and dist/config/ are not packed: the CLI ships as
// the bundle) and esbuild bundles the CLI (dist/cli.js, what bin/hpauth.js imports). The CLI bundle is code-split: each command module and the heavy dependencies it alone needs (the
// emulator, YAML/TOML parsers, the login listener) land in chunks under dist/cli-chunks/ that are read only when
// that command runs. A single-file bundle made Node parse ~850 KB on every `hpauth token`; split, the cached
// token path reads what it uses. commander is a chunk of its own too: a plain `hpauth token` is parsed without
// it (src/cli/argv.ts), and proper-lockfile, jose and oauth4webapi are imported only when a lock, `inspect` or a
// grant needs them.
//
//   node scripts/build.mjs              library + CLI
//   node scripts/build.mjs --cli-only   just the CLI bundle (seconds; the CLI tests use it)
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

const cliOnly = process.argv.includes("--cli-only");
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

if (cliOnly) {
  rmSync("dist/cli-chunks", { recursive: true, force: true });
} else {
  rmSync("dist", { recursive: true, force: true });
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
}
await build({
  // entry.ts runs the CLI; main.ts only exports it (so tests can import main() without starting a process).
  entryPoints: { cli: "src/cli/entry.ts" },
  outdir: "dist",
  chunkNames: "cli-chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // No dependency twice in the package: what the library needs (package.json `dependencies` and peers: npm installs
  // them, dist/ imports them) stays external, loaded from node_modules when a command needs it; what only the CLI
  // uses (commander, the config-file parsers, mute-stream: devDependencies) is bundled into its chunks, so it is
  // not installed at all.
  external: [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})],
  sourcemap: true,
  logLevel: "warning",
  // Bundled CommonJS dependencies (commander) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __hpauthCreateRequire } from 'node:module'; const require = __hpauthCreateRequire(import.meta.url);",
  },
});
