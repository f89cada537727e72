/**
 * A private copy of the built CLI (bin/hpauth.js + dist/cli.js + dist/cli-chunks/ + dist/probe.cjs; the package's dependencies, which
 * the bundle imports, through a link to this checkout's node_modules) in a
 * test's own directory: test/cli/binary.test.ts rebuilds dist/cli-chunks while other files run, and a CLI started
 * in that window finds its chunks missing. The copy is what users run, byte for byte; it is checked by running it.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));

export async function privateCli(dir: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const target = join(dir, `cli-${attempt}`);
    const bin = join(target, "bin", "hpauth.js");
    try {
      // Copying can itself hit the rebuild window (dist/cli-chunks removed and not yet written): retried too.
      await mkdir(join(target, "dist"), { recursive: true });
      await cp(join(root, "bin"), join(target, "bin"), { recursive: true });
      await cp(join(root, "dist", "cli.js"), join(target, "dist", "cli.js"));
      await cp(join(root, "dist", "cli-chunks"), join(target, "dist", "cli-chunks"), { recursive: true });
      await cp(join(root, "dist", "probe.cjs"), join(target, "dist", "probe.cjs"));
      await symlink(join(root, "node_modules"), join(target, "node_modules"), "dir");
      // `request --help` loads commander and the help path: a missing chunk fails here, not in a test.
      await promisify(execFile)(process.execPath, [bin, "request", "--help"], { timeout: 20_000 });
      return bin;
    } catch (e) {
      if (attempt >= 15) throw e; // a rebuild on a loaded machine can take its time
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
