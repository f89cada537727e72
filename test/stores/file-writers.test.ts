/**
 * Who wrote a temp file, as FileTokenStore names it and later judges it: the name's host tag, pid, start time and
 * random part; a machine without /proc (the start time is "x" and kill(pid, 0) decides) through a proc file system of
 * the test's own (`processes`); and what a failed write or delete says when the error carries no code.
 */
import * as nodeFs from "node:fs/promises";
import { mkdir, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileTokenStore, type StoreFs } from "../../src/stores/file.js";
import { type ProcessView, selfIdentity } from "../../src/stores/filelock.js";
import { cleanup, record, tempDir } from "./helpers.js";

/** A pid no process has in the fake proc file system. */
const OTHER = 4242;

let root: string;
let dir: string;
let warnings: string[];
let noProc: ProcessView & { probes: number[] };

beforeEach(async () => {
  root = await tempDir();
  dir = join(root, "tokens");
  warnings = [];
  await mkdir(join(root, "empty-proc"));
  const probes: number[] = [];
  noProc = {
    procRoot: join(root, "empty-proc"),
    probes,
    kill: (pid) => {
      probes.push(pid);
      if (pid !== process.pid) throw Object.assign(new Error("no such process"), { code: "ESRCH" });
    },
  };
});
afterEach(() => cleanup(root));

const open = (extra: Partial<ConstructorParameters<typeof FileTokenStore>[0]> = {}) =>
  new FileTokenStore({ dir, onWarning: (m) => warnings.push(m), ...extra });

/** Leaves a complete temp file for `rec`, as a writer killed between its fsync and its rename would. */
async function strandedWrite(key: string, rec: ReturnType<typeof record>, processes?: ProcessView): Promise<string> {
  let stranded = "";
  const fs: StoreFs = {
    ...nodeFs,
    rename: async (a) => {
      stranded = String(a);
      throw Object.assign(new Error("killed"), { code: "EIO" });
    },
    rm: async () => {}, // the dead writer cleans nothing up
  };
  await expect(open({ fs, ...(processes ? { processes } : {}) }).set(key, rec)).rejects.toThrow();
  return stranded;
}

const temps = async () => (await readdir(dir)).filter((n) => n.endsWith(".tmp"));

describe("the temp file's name", () => {
  it("is .<record file>.<host tag>-<pid>-<start time>-<random>.tmp, random each time", async () => {
    const store = open();
    const me = await selfIdentity();
    const a = await strandedWrite("k", record());
    const b = await strandedWrite("k", record());
    const base = store.fileFor("k").slice(dir.length + 1);
    const shape = new RegExp(
      `^\\.${base.replace(/\./g, "\\.")}\\.[0-9a-f]{12}-${me.pid}-${me.start ?? "x"}-[0-9a-f]{16}\\.tmp$`,
    );
    expect(a.slice(dir.length + 1)).toMatch(shape);
    expect(b.slice(dir.length + 1)).toMatch(shape);
    expect(a).not.toBe(b);
  });

  it("without /proc the start time is x, and the writer is judged by kill(pid, 0)", async () => {
    const tmp = await strandedWrite("k", record({ updatedAt: 7 }), noProc);
    expect(tmp).toMatch(new RegExp(`-${process.pid}-x-[0-9a-f]{16}\\.tmp$`));
    // Ours (same pid, no start time to tell apart): a write in progress, left alone and not probed.
    const store = open({ processes: noProc });
    expect(await store.withLock("k", () => store.get("k"))).toBeUndefined();
    expect(await temps()).toHaveLength(1);
    expect(noProc.probes).toEqual([]);
    // Another pid, gone (ESRCH): a dead writer's record, recovered under the lock.
    await rename(tmp, tmp.replace(`-${process.pid}-x-`, `-${OTHER}-x-`));
    expect((await store.withLock("k", () => store.get("k")))?.updatedAt).toBe(7);
    expect(noProc.probes).toContain(OTHER);
    expect(await temps()).toEqual([]);
    expect(warnings.join("\n")).toContain('Recovered the token record for "k"');
  });

  it("a temp file named by another machine's view (another host tag) waits out tempMaxAgeMs", async () => {
    const tmp = await strandedWrite("k", record({ updatedAt: 7 })); // the real /proc: another host tag than noProc's
    await rename(tmp, tmp.replace(/-\d+-(\d+|x)-/, `-${OTHER}-x-`));
    const store = open({ processes: noProc });
    expect(await store.withLock("k", () => store.get("k"))).toBeUndefined();
    expect(await temps()).toHaveLength(1);
    expect(noProc.probes).toEqual([]);
  });
});

describe("an error without a code", () => {
  const codeless = () => Promise.reject(new Error("something odd"));

  it("a failed write says so, naming the file", async () => {
    const store = open({ fs: { ...nodeFs, rename: codeless } });
    await expect(store.set("k", record())).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: `Cannot write token file ${store.fileFor("k")} (error).`,
    });
    expect(await temps()).toEqual([]);
  });

  it("a failed delete says so, naming the file", async () => {
    const store = open({ fs: { ...nodeFs, unlink: codeless } });
    await store.set("k", record());
    await expect(store.delete("k")).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: `Cannot delete token file ${store.fileFor("k")} (error).`,
    });
  });
});
