/** The emulator is a separate part: it imports nothing from the client side (engine, stores, CLI). */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../src/emulator");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("src/emulator imports", () => {
  it("nothing from src/engine, src/stores or src/cli, and only allowed packages", () => {
    const all = files(root);
    expect(all.length).toBeGreaterThan(5);
    const allowedPackages = new Set(["jose"]);
    const bad: string[] = [];
    for (const f of all) {
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)) {
        const spec = m[1]!;
        if (spec.startsWith("node:")) continue;
        if (spec.startsWith(".")) {
          const target = resolve(join(f, ".."), spec);
          if (!target.startsWith(root)) bad.push(`${relative(root, f)} → ${spec}`);
          continue;
        }
        if (!allowedPackages.has(spec)) bad.push(`${relative(root, f)} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
