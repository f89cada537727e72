/**
 * What FileTokenStore does with what interrupted writes and takeovers left in its directory, judged through a proc
 * file system of the test's own (`processes`: no /proc, kill(pid, 0) answering "gone" for any pid but ours), so a
 * dead writer is a name, not a child process: under the lock, a newer hpauth's temp file is left alone, another
 * key's is kept aside, one over an unreadable record waits, one over a corrupt record is recovered; when the store
 * opens, dead writers' empty and broken temp files are cleared or kept aside and lock leftovers go after their grace.
 */
import * as nodeFs from "node:fs/promises";
import { mkdir, readdir, readFile, rename, symlink, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileTokenStore, type StoreFs } from "../../src/stores/file.js";
import type { ProcessView } from "../../src/stores/filelock.js";
import { cleanup, record, tempDir } from "./helpers.js";

/** A pid that is gone, for the fake kill(pid, 0). */
const GONE = 4242;

let root: string;
let dir: string;
let warnings: string[];
let processes: ProcessView;

beforeEach(async () => {
  root = await tempDir();
  dir = join(root, "tokens");
  warnings = [];
  await mkdir(join(root, "empty-proc"));
  processes = {
    procRoot: join(root, "empty-proc"),
    kill: (pid) => {
      if (pid !== process.pid) throw Object.assign(new Error("no such process"), { code: "ESRCH" });
    },
  };
});
afterEach(() => cleanup(root));

const open = (extra: Partial<ConstructorParameters<typeof FileTokenStore>[0]> = {}) =>
  new FileTokenStore({ dir, processes, onWarning: (m) => warnings.push(m), ...extra });

/** A complete temp file for `rec`, left by a writer (pid GONE) killed between its fsync and its rename. */
async function deadWritersTemp(key: string, rec: ReturnType<typeof record>): Promise<string> {
  let stranded = "";
  const fs: StoreFs = {
    ...nodeFs,
    rename: async (a) => {
      stranded = String(a);
      throw Object.assign(new Error("killed"), { code: "EIO" });
    },
    rm: async () => {},
  };
  await expect(open({ fs }).set(key, rec)).rejects.toThrow();
  const renamed = stranded.replace(`-${process.pid}-x-`, `-${GONE}-x-`);
  expect(renamed).not.toBe(stranded);
  await rename(stranded, renamed);
  return renamed;
}

const names = async () => (await readdir(dir)).sort();
const underLock = (store: FileTokenStore, key = "k") => store.withLock(key, async () => "held");

describe("under the lock, a dead writer's temp file", () => {
  it("written by a newer hpauth (a format this one does not know) is left alone", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1 }));
    const tmp = await deadWritersTemp("k", record({ updatedAt: 2 }));
    const doc = JSON.parse(await readFile(tmp, "utf8"));
    await writeFile(tmp, JSON.stringify({ ...doc, v: 99 }));
    await underLock(store);
    expect(await names()).toContain(tmp.slice(dir.length + 1));
    expect((await store.get("k"))?.updatedAt).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("holding another key's record is kept aside as a corrupt copy, with a warning", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1 }));
    const tmp = await deadWritersTemp("k", record({ updatedAt: 2 }));
    const doc = JSON.parse(await readFile(tmp, "utf8"));
    await writeFile(tmp, JSON.stringify({ ...doc, key: "another" }));
    await underLock(store);
    const aside = (await names()).filter((n) => n.includes(".json.corrupt-"));
    expect(aside).toHaveLength(1);
    expect((await names()).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(warnings).toEqual([
      `An interrupted write left an incomplete temp file for "k" (another key); kept it at ${join(dir, aside[0]!)}.`,
    ]);
    expect((await store.get("k"))?.updatedAt).toBe(1);
  });

  it("over a record that cannot be read (a symlink) waits, leaving both for a human", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1 }));
    const tmp = await deadWritersTemp("k", record({ updatedAt: 2 }));
    const file = store.fileFor("k");
    await rename(file, join(root, "elsewhere.json"));
    await symlink(join(root, "elsewhere.json"), file);
    await underLock(store);
    expect(await names()).toContain(tmp.slice(dir.length + 1));
    await unlink(file);
    await rename(join(root, "elsewhere.json"), file);
    // Once readable again, the record written over it is recovered.
    expect(await store.withLock("k", async () => (await store.get("k"))?.updatedAt)).toBe(2);
  });

  it("written over a corrupt record (its prev is the corrupt bytes' hash) is recovered: any record beats none", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1 }));
    await writeFile(store.fileFor("k"), "{half a rec", { mode: 0o600 });
    await deadWritersTemp("k", record({ updatedAt: 2, refreshToken: "rt-new" })); // kept a copy, then died
    expect(await store.withLock("k", async () => (await store.get("k"))?.refreshToken)).toBe("rt-new");
    expect(warnings.join("\n")).toContain('Recovered the token record for "k"');
  });

  it("whose age cannot be told (stat fails) and whose writer cannot be judged is not abandoned", async () => {
    const store = open();
    await store.set("k", record({ updatedAt: 1 }));
    const tmp = await deadWritersTemp("k", record({ updatedAt: 2 }));
    const foreign = tmp.replace(/\.json\.[0-9a-f]{12}-/, ".json.0123456789ab-"); // another machine's
    await rename(tmp, foreign);
    const past = new Date(Date.now() - 3_600_000);
    await utimes(foreign, past, past);
    const failingStat: StoreFs = {
      ...nodeFs,
      stat: (async (p: string, ...rest: []) => {
        if (String(p).endsWith(".tmp")) throw Object.assign(new Error("io"), { code: "EIO" });
        return nodeFs.stat(p, ...rest);
      }) as StoreFs["stat"],
    };
    const blind = open({ fs: failingStat, tempMaxAgeMs: 1_000 });
    expect(await blind.withLock("k", async () => (await blind.get("k"))?.updatedAt)).toBe(1);
    expect(await names()).toContain(foreign.slice(dir.length + 1));
    // With its age known it is abandoned, and recovered.
    expect(await open({ tempMaxAgeMs: 1_000 }).withLock("k", async () => (await store.get("k"))?.updatedAt)).toBe(2);
  });
});

describe("when the store opens", () => {
  it("a dead writer's empty temp file is removed, a broken one kept aside; a live writer's broken one stays", async () => {
    await open().set("k", record({ updatedAt: 1 }));
    const empty = await deadWritersTemp("k", record({ updatedAt: 2 }));
    await writeFile(empty, "");
    const broken = await deadWritersTemp("k", record({ updatedAt: 3 }));
    await writeFile(broken, '{"v":1,"key":"k","rec');
    const mine = broken
      .replace(`-${GONE}-x-`, `-${process.pid}-x-`)
      .replace(/-[0-9a-f]{16}\.tmp$/, "-00112233445566ff.tmp");
    await writeFile(mine, "{");
    const before = Date.now();
    await open().list();
    const after = await names();
    expect(after).not.toContain(empty.slice(dir.length + 1));
    expect(after).not.toContain(broken.slice(dir.length + 1));
    expect(after).toContain(mine.slice(dir.length + 1));
    const base = open()
      .fileFor("k")
      .slice(dir.length + 1);
    const aside = after.filter((n) => n.startsWith(`${base}.corrupt-`));
    expect(aside).toHaveLength(1);
    expect(Number(aside[0]!.slice(`${base}.corrupt-`.length))).toBeGreaterThanOrEqual(before);
    expect(await readFile(join(dir, aside[0]!), "utf8")).toBe('{"v":1,"key":"k","rec');
  });

  it("a complete record in a temp file is not touched without the lock, whatever its age", async () => {
    await open().set("k", record({ updatedAt: 1 }));
    const tmp = await deadWritersTemp("k", record({ updatedAt: 2 }));
    await open({ tempMaxAgeMs: 0 }).list();
    expect(await names()).toContain(tmp.slice(dir.length + 1));
  });

  it("lock leftovers (tombstones, released and staged locks) go once older than the grace period", async () => {
    await open().set("k", record({ updatedAt: 1 }));
    const base = open()
      .fileFor("k")
      .slice(dir.length + 1)
      .replace(/\.json$/, "");
    const leftovers = [`${base}.lock.dead-00ff`, `${base}.lock.stale-1234`, `${base}.lock.released-ab12`];
    for (const n of leftovers) {
      await mkdir(join(dir, n));
      await writeFile(join(dir, n, "owner"), "{}");
    }
    const young = `${base}.lock.new-cd34`;
    await mkdir(join(dir, young));
    const past = new Date(Date.now() - 10_000);
    for (const n of leftovers) await utimes(join(dir, n), past, past);
    await open({ tempMaxAgeMs: 5_000 }).list();
    expect((await names()).filter((n) => n.includes(".lock."))).toEqual([young]);
  });
});

describe("a live writer, and a directory that cannot be made", () => {
  it("another live process's temp file is left alone however old (its write is in progress)", async () => {
    const LIVE = 4343;
    const alive: ProcessView = {
      procRoot: processes.procRoot,
      kill: (pid) => {
        if (pid !== process.pid && pid !== LIVE) throw Object.assign(new Error("gone"), { code: "ESRCH" });
      },
    };
    await open().set("k", record({ updatedAt: 1 }));
    const tmp = await deadWritersTemp("k", record({ updatedAt: 2 }));
    const live = tmp.replace(`-${GONE}-x-`, `-${LIVE}-x-`);
    await rename(tmp, live);
    const store = open({ processes: alive, tempMaxAgeMs: 0 });
    expect(await store.withLock("k", async () => (await store.get("k"))?.updatedAt)).toBe(1);
    expect(await names()).toContain(live.slice(dir.length + 1));
  });

  it("a token directory that cannot be created is an error naming it and the code", async () => {
    await writeFile(join(root, "a-file"), "");
    const store = new FileTokenStore({ dir: join(root, "a-file", "tokens"), processes });
    await expect(store.list()).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: `Cannot create token directory ${join(root, "a-file", "tokens")} (ENOTDIR).`,
      cause: expect.objectContaining({ code: "ENOTDIR" }),
    });
  });
});
