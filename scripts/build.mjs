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

// The cached-token probe (src/cli/probe.ts; bin/hpauth.js runs it before dist/cli.js): one CommonJS file, read and
// run synchronously, so a cached `hpauth token` never starts the ES module loader. It is synchronous by design, so
// nothing it imports lazily (`await import()`: commander, the YAML/JSON parsers, the OAuth flows) can be on its
// path: such imports become a module that throws, and the bundle holds only what the probe runs. The first line
// names the bundle's content (a SHA-256 prefix), which bin/hpauth.js puts in the name of the V8 code cache it
// keeps for it, so a cache is only ever used with the exact source it was made from.
{
  const { createHash } = await import("node:crypto");
  const { writeFileSync } = await import("node:fs");
  const lazyOff = {
    name: "probe-no-lazy-imports",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) =>
        args.kind === "dynamic-import" ? { path: args.path, namespace: "probe-lazy" } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: "probe-lazy" }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the probe bundle`)});`,
        loader: "js",
      }));
    },
  };
  const probe = await build({
    entryPoints: ["src/cli/probe.ts"],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    write: false,
    logLevel: "warning",
    // argv.ts's createRequire(import.meta.url) serves commander, which the probe never loads.
    logOverride: { "empty-import-meta": "silent" },
    plugins: [lazyOff],
  });
  const text = probe.outputFiles[0].text;
  const id = createHash("sha256").update(text).digest("hex").slice(0, 16);
  writeFileSync("dist/probe.cjs", `// hpauth-probe ${id}\n${text}`);
}
