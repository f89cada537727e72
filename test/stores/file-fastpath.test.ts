/**
 * FileTokenStore.get's fast path: the record read last is served again, without opening the file, only while an
 * lstat shows the very same file (device, inode, size, mtime, ctime) — and only once the file is older than the
 * racy window. Every other state (another process's write, an edit in place, a chmod, a deletion, a fresh file)
 * takes the full read. Opens of the record file are counted through the injected fs.
 */
import * as nodeFs from "node:fs/promises";
import { chmod, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FileTokenStore, type StoreFs } from "../../src/stores/file.js";
import { bundleStore, type Child, cleanup, record, startChild, tempDir, writeScript } from "./helpers.js";

const posixOnly = process.platform !== "win32";
/** A little over the store's racy window (2 s): a file older than that may be remembered. */
const SETTLE_MS = 2_100;
const KEY = "profile:fast";

let root: string;
let dir: string;
let warnings: string[];
let opens: number;

/** The real fs, counting opens of record files (`*.json`). */
const countingFs: StoreFs = {
  ...nodeFs,
  open: ((path: string, ...rest: [number?, number?]) => {
    if (String(path).endsWith(".json")) opens++;
    return nodeFs.open(path, ...rest);
  }) as StoreFs["open"],
};

const open = () => new FileTokenStore({ dir, fs: countingFs, onWarning: (m) => warnings.push(m) });

beforeEach(async () => {
  root = await tempDir();
  dir = join(root, "tokens");
  warnings = [];
  opens = 0;
});
afterEach(() => cleanup(root));

/** A store that has read a settled file once (full read) and serves it from the fast path since. */
async function settledStore() {
  const writer = new FileTokenStore({ dir });
  await writer.set(KEY, record({ accessToken: "at-one" }));
  await sleep(SETTLE_MS);
  const store = open();
  expect((await store.get(KEY))?.accessToken).toBe("at-one");
  const before = opens;
  expect((await store.get(KEY))?.accessToken).toBe("at-one");
  expect(opens).toBe(before); // served without opening the file
  return { store, writer, file: store.fileFor(KEY) };
}

describe("FileTokenStore.get fast path", () => {
  it("serves an unchanged settled file without reading it, as an isolated copy", async () => {
    const { store } = await settledStore();
    const a = await store.get(KEY);
    a!.accessToken = "mutated by the caller";
    a!.meta = { x: 1 };
    const b = await store.get(KEY);
    expect(b?.accessToken).toBe("at-one");
    expect(b?.meta).toBeUndefined();
  });

  it("sees another writer's record at once (a new file renamed into place)", async () => {
    const { store, writer } = await settledStore();
    await writer.set(KEY, record({ accessToken: "at-two", refreshToken: "rt-rotated" }));
    const before = opens;
    const got = await store.get(KEY);
    expect(got?.accessToken).toBe("at-two");
    expect(got?.refreshToken).toBe("rt-rotated");
    expect(opens).toBe(before + 1);
  });

  it("sees an edit in place of the same size (same inode)", async () => {
    const { store, file } = await settledStore();
    const text = await nodeFs.readFile(file, "utf8");
    const edited = text.replace("at-one", "at-eno");
    expect(edited.length).toBe(text.length);
    const ino = (await stat(file)).ino;
    await writeFile(file, edited); // truncates and rewrites the same inode
    expect((await stat(file)).ino).toBe(ino);
    expect((await store.get(KEY))?.accessToken).toBe("at-eno");
  });

  it.runIf(posixOnly)("a chmod makes the next get a full read, which tightens the mode and warns", async () => {
    const { store, file } = await settledStore();
    await chmod(file, 0o644);
    expect((await store.get(KEY))?.accessToken).toBe("at-one");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(warnings.join("\n")).toMatch(/accessible to others/);
  });

  it("a deleted file is gone at once", async () => {
    const { store, file } = await settledStore();
    await rm(file);
    expect(await store.get(KEY)).toBeUndefined();
  });

  it("a fresh file (changed within the racy window) is read in full every time", async () => {
    const store = open();
    await new FileTokenStore({ dir }).set(KEY, record());
    await store.get(KEY);
    await store.get(KEY);
    await store.get(KEY);
    expect(opens).toBe(3);
  });

  it("this store's own write is read back, not the record remembered before it", async () => {
    const { store } = await settledStore();
    await store.set(KEY, record({ accessToken: "at-mine" }));
    expect((await store.get(KEY))?.accessToken).toBe("at-mine");
  });
});

describe("FileTokenStore.get fast path across processes", () => {
  let script: string;
  let base: string;
  const children: Child[] = [];
  beforeAll(async () => {
    base = await tempDir();
    script = await writeScript(
      base,
      "rotate.mjs",
      await bundleStore(base),
      `
const [dir, key, token] = process.argv.slice(2);
const store = new FileTokenStore({ dir });
await store.withLock(key, async () => {
  const r = await store.get(key);
  await store.set(key, { ...r, accessToken: token, refreshToken: token + "-rt", updatedAt: Date.now() });
});
console.log("done");
`,
    );
  });
  afterAll(() => cleanup(base, children));

  it("a long-lived reader on the fast path sees another process's rotation on its next get", async () => {
    const { store } = await settledStore();
    for (const token of ["at-from-child-1", "at-from-child-2"]) {
      const child = startChild(script, [dir, KEY, token]);
      children.push(child);
      expect(await child.exited, child.stderr()).toEqual({ code: 0, signal: null });
      const got = await store.get(KEY);
      expect(got?.accessToken).toBe(token);
      expect(got?.refreshToken).toBe(`${token}-rt`);
    }
  });
});
