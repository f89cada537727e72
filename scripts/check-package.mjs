// The package as `npm publish` would ship it: packs the built tree (`npm run build` first; `npm pack` alone runs the
// prepack build), then checks the tarball — publint --strict, @arethetypeswrong/cli with the esm-only profile, no
// source maps (they would point at src/, which is not shipped), a LICENSE, every file the README and the shipped docs
// link to — and prints its size and file count (BENCHMARKS.md). Part of `npm run test:full` (CI).
//
//   npm run build && npm run check:package [-- --json]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const asJson = process.argv.includes("--json");
if (!existsSync(join(root, "dist", "cli.js"))) {
  process.stderr.write("check-package: dist/ is not built; run `npm run build` first\n");
  process.exit(2);
}
const tmp = mkdtempSync(join(tmpdir(), "hpauth-pack-"));
const problems = [];
try {
  // --ignore-scripts: the tree is built already (prepack would build it again).
  const [info] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const tgz = join(tmp, info.filename);
  const files = new Set(info.files.map((f) => f.path));

  for (const f of files) if (f.endsWith(".map")) problems.push(`${f}: a source map (its sources are not shipped)`);
  if (!files.has("LICENSE")) problems.push("no LICENSE");
  for (const f of ["bin/hpauth.js", "dist/cli.js", "dist/index.js", "dist/index.d.ts"])
    if (!files.has(f)) problems.push(`${f} missing`);
  // Relative links of README.md and of every shipped Markdown file must land on a shipped file.
  for (const doc of [...files].filter((f) => f.endsWith(".md"))) {
    const text = readFileSync(join(root, doc), "utf8");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
      const path = normalize(join(dirname(doc), target.split("#")[0])).replace(/\\/g, "/");
      if (path && !files.has(path) && ![...files].some((f) => f.startsWith(`${path}/`)))
        problems.push(`${doc} links to ${target}, which is not in the package`);
    }
  }

  const bin = (name) => join(root, "node_modules", ".bin", name);
  const quiet = asJson ? "pipe" : "inherit";
  for (const [name, args] of [
    ["publint", ["run", tgz, "--strict"]],
    ["attw", [tgz, "--profile", "esm-only"]],
  ]) {
    try {
      execFileSync(bin(name), args, { cwd: root, stdio: ["ignore", quiet, "inherit"] });
    } catch {
      problems.push(`${name} failed (see above)`);
    }
  }

  const summary = { packed_bytes: info.size, unpacked_bytes: info.unpackedSize, files: info.entryCount };
  if (asJson) process.stdout.write(`${JSON.stringify({ ...summary, problems })}\n`);
  else
    process.stdout.write(
      `hpauth ${info.version}: ${(info.size / 1000).toFixed(1)} kB packed, ${(info.unpackedSize / 1000).toFixed(1)} kB unpacked, ${info.entryCount} files\n`,
    );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
for (const p of problems) process.stderr.write(`check-package: ${p}\n`);
process.exit(problems.length ? 1 : 0);
