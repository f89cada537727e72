#!/usr/bin/env node
// hpauth's command. CommonJS (bin/package.json), so that a cached `hpauth token|header …` — a shell loop's or a
// Makefile's hundredth call — is answered by the probe (dist/probe.cjs, src/cli/probe.ts: synchronous, read-only)
// without starting Node's ES module loader. Everything the probe declines, and every other command, runs the full
// CLI (dist/cli.js) exactly as before. HPAUTH_PROBE=off skips the probe.
//
// The probe is compiled with a V8 code cache kept in the user's cache directory (`$XDG_CACHE_HOME/hpauth`,
// `~/.cache/hpauth`, `~/Library/Caches/hpauth`, `%LOCALAPPDATA%\hpauth\cache`; none without HOME), private like
// the token store: a directory and a file owned by this user that no one else may write, or it is neither read nor
// written (V8 code is code: a cache others could plant would be theirs to run). Its name holds the Node version,
// the architecture, the probe's content id (the bundle's first line), its size and mtime, and V8 checks its own
// version, flags and the source's length: a cache is only used with the source it was made from. Any problem with
// it — absent, rejected, unreadable, unwritable — only costs the compile it would have saved.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

/** The probe's answer printed (true), or false: nothing was printed, run the full CLI. */
function probe() {
  const argv = process.argv.slice(2);
  if (process.env.HPAUTH_PROBE === "off" || !(argv.includes("token") || argv.includes("header"))) return false;
  const file = path.join(__dirname, "..", "dist", "probe.cjs");
  let source;
  let st;
  try {
    const fd = fs.openSync(file, "r");
    try {
      st = fs.fstatSync(fd);
      source = fs.readFileSync(fd, "utf8");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  const vm = require("node:vm");
  const head = "// hpauth-probe ";
  const id = source.startsWith(head) ? source.slice(head.length, source.indexOf("\n")) : undefined;
  const cacheFile = id ? codeCacheFile(id, st) : undefined;
  const cached = cacheFile ? readPrivate(cacheFile) : undefined;
  let out;
  let script;
  const mod = { exports: {} };
  try {
    script = new vm.Script(require("node:module").wrap(source), {
      filename: file,
      ...(cached ? { cachedData: cached } : {}),
    });
    script.runInThisContext()(mod.exports, require, mod, file, path.dirname(file));
    out = mod.exports.probe(argv, process.env);
  } catch {
    return false;
  }
  const printed = out !== undefined && print(out);
  if (cacheFile && (!cached || script.cachedDataRejected)) {
    try {
      mod.exports.warm?.(); // every form's code compiled, so the cache serves them all
      writePrivate(cacheFile, script.createCachedData());
    } catch {
      // A cache not written is a compile not saved next time, nothing more.
    }
  }
  return printed;
}

/** Writes `text` to stdout; false if not one byte could be written (the full CLI then answers, and reports). */
function print(text) {
  const buf = Buffer.from(text, "utf8");
  let done = 0;
  while (done < buf.length) {
    try {
      done += fs.writeSync(1, buf, done);
    } catch {
      if (done === 0) return false;
      process.stdout.write(buf.subarray(done)); // a full non-blocking pipe: the rest, asynchronously
      return true;
    }
  }
  return true;
}

/** Where the code cache lives, or undefined (no cache). The environment's home, as os.homedir() reads it first. */
function cacheDir() {
  const env = process.env;
  if (process.platform === "win32") return env.LOCALAPPDATA && path.join(env.LOCALAPPDATA, "hpauth", "cache");
  if (!env.HOME) return undefined;
  if (process.platform === "darwin") return path.join(env.HOME, "Library", "Caches", "hpauth");
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : undefined;
  return path.join(xdg ?? path.join(env.HOME, ".cache"), "hpauth");
}

function codeCacheFile(id, st) {
  const dir = cacheDir();
  return (
    dir && path.join(dir, `probe-${process.version}-${process.arch}-${id}-${st.size}-${Math.trunc(st.mtimeMs)}.v8`)
  );
}

/** Ours and writable by no one else (on Windows: the user's own profile directory, not checked further). */
function isPrivate(st) {
  if (process.platform === "win32") return true;
  const uid = process.geteuid?.();
  return (uid === undefined || st.uid === uid) && (st.mode & 0o022) === 0;
}

function readPrivate(file) {
  let fd;
  try {
    const dir = fs.lstatSync(path.dirname(file));
    if (!dir.isDirectory() || !isPrivate(dir)) return undefined;
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    const st = fs.fstatSync(fd);
    return st.isFile() && isPrivate(st) ? fs.readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writePrivate(file, data) {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || !isPrivate(st)) return;
  // Caches of other builds or Node versions stay (two installs used in turn must not evict each other's), but only
  // the newest few: upgrades leave one behind each.
  const others = fs
    .readdirSync(dir)
    .filter((n) => /^probe-.*\.v8$/.test(n) && n !== path.basename(file))
    .map((n) => ({ n, t: fs.statSync(path.join(dir, n)).mtimeMs }))
    .sort((x, y) => y.t - x.t);
  for (const { n } of others.slice(7)) fs.rmSync(path.join(dir, n), { force: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { flag: "wx", mode: 0o600 });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

if (!probe()) {
  import("../dist/cli.js").catch((e) => {
    process.nextTick(() => {
      throw e;
    });
  });
}
