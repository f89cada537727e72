/**
 * The in-process layer under every store's lock (stores/mutex.ts): one holder per key, FIFO, and a waiter that
 * gives up (timeout, abort) neither gets the lock nor stalls the ones queued behind it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { KeyedMutex } from "../../src/stores/mutex.js";

/** A holder that keeps the lock until `open()` is called. */
function gate() {
  let open!: () => void;
  const closed = new Promise<void>((r) => {
    open = r;
  });
  return { open, closed };
}

async function rejection(p: Promise<unknown>): Promise<HpauthError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HpauthError);
  return e as HpauthError;
}

describe("KeyedMutex", () => {
  it("one holder per key at a time, served in arrival order; other keys do not wait", async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    const job = (key: string, name: string) =>
      m.run(key, async () => {
        inside++;
        most = Math.max(most, inside);
        log.push(`${name} in`);
        await sleep(5);
        log.push(`${name} out`);
        inside--;
        return name;
      });
    const g = gate();
    const other = m.run("b", async () => {
      await g.closed;
      return "b";
    });
    const results = await Promise.all([job("a", "1"), job("a", "2"), job("a", "3")]);
    expect(results).toEqual(["1", "2", "3"]);
    expect(log).toEqual(["1 in", "1 out", "2 in", "2 out", "3 in", "3 out"]);
    expect(most).toBe(1);
    g.open();
    expect(await other).toBe("b");
  });

  it("a caller arriving while the second holder has the lock still waits for it (the queue is not forgotten)", async () => {
    const m = new KeyedMutex();
    const first = gate();
    const second = gate();
    const log: string[] = [];
    const a = m.run("k", () => first.closed.then(() => log.push("a out")));
    const b = m.run("k", async () => {
      log.push("b in");
      await second.closed;
      log.push("b out");
    });
    first.open();
    await a;
    await sleep(5); // b holds the lock now
    const c = m.run("k", async () => {
      log.push("c in");
    });
    await sleep(20);
    expect(log).toEqual(["a out", "b in"]);
    second.open();
    await Promise.all([b, c]);
    expect(log).toEqual(["a out", "b in", "b out", "c in"]);
  });

  it("a holder that throws releases the lock", async () => {
    const m = new KeyedMutex();
    await expect(m.run("k", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await m.run("k", async () => "next", { timeoutMs: 200 })).toBe("next");
  });

  it("a waiter times out with LOCK_TIMEOUT and a hint; the queue behind it still gets the lock in turn", async () => {
    const m = new KeyedMutex();
    const g = gate();
    const holder = m.run("k", () => g.closed.then(() => "holder"));
    const started = Date.now();
    const timedOut = rejection(m.run("k", async () => "never", { timeoutMs: 50 }));
    const after = m.run("k", async () => "after");
    const e = await timedOut;
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(e.code).toBe("LOCK_TIMEOUT");
    expect(e.message).toBe("Timed out after 50 ms waiting for another token operation.");
    expect(e.hint).toMatch(/holds the lock on this credential; retry, or raise the lock timeout/);
    let afterDone = false;
    void after.then(() => {
      afterDone = true;
    });
    await sleep(20);
    expect(afterDone).toBe(false); // the holder still has it
    g.open();
    expect(await holder).toBe("holder");
    expect(await after).toBe("after");
  });

  it("a waiter that gets the lock in time is not timed out later", async () => {
    const m = new KeyedMutex();
    const g = gate();
    const holder = m.run("k", () => g.closed);
    const waiter = m.run("k", () => sleep(80).then(() => "done"), { timeoutMs: 50 });
    g.open();
    await holder;
    expect(await waiter).toBe("done");
  });

  it("an abort while waiting cancels at once; an already-aborted signal does not wait at all", async () => {
    const m = new KeyedMutex();
    const g = gate();
    const holder = m.run("k", () => g.closed);
    const ac = new AbortController();
    const waiting = rejection(m.run("k", async () => "never", { signal: ac.signal, timeoutMs: 10_000 }));
    setTimeout(() => ac.abort(), 10);
    const started = Date.now();
    const e = await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(e.code).toBe("CANCELLED");
    expect(e.message).toBe("Cancelled while waiting for the token lock.");

    const pre = await rejection(m.run("k", async () => "never", { signal: AbortSignal.abort() }));
    expect(pre.code).toBe("CANCELLED");
    expect(pre.message).toBe("Cancelled while waiting for the token lock.");
    g.open();
    await holder;
    // Nothing left queued by the cancelled waiters: the next caller gets the lock at once.
    expect(await m.run("k", async () => "free", { timeoutMs: 100 })).toBe("free");
  });

  it("with a signal and no timeout, a waiter waits as long as it takes", async () => {
    const m = new KeyedMutex();
    const g = gate();
    const holder = m.run("k", () => g.closed);
    const waiter = m.run("k", async () => "mine", { signal: new AbortController().signal });
    setTimeout(() => g.open(), 30);
    await holder;
    expect(await waiter).toBe("mine");
  });
});
