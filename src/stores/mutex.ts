/**
 * A keyed async mutex: one holder per key within this process, FIFO. Hand-rolled because it is a dozen lines and
 * the stores need it only as the in-process layer under their cross-process lock (whose lock directory cannot tell
 * two callers of one process apart, so callers must queue here first).
 */
import { HpauthError } from "../engine/errors.js";

/** Default wait for a lock: long enough for another caller's interactive (browser) login. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5 * 60_000;

export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>, options: { timeoutMs?: number; signal?: AbortSignal } = {}) {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    try {
      await waitFor(previous, options);
    } catch (e) {
      // We never held the lock, but later waiters chain on us: pass the baton once our predecessor is done.
      previous.then(release, release);
      if (this.#tails.get(key) === tail) void tail.then(() => this.#cleanup(key, tail));
      throw e;
    }
    try {
      return await fn();
    } finally {
      release();
      this.#cleanup(key, tail);
    }
  }

  #cleanup(key: string, tail: Promise<void>) {
    if (this.#tails.get(key) === tail) this.#tails.delete(key);
  }
}

function waitFor(p: Promise<void>, { timeoutMs, signal }: { timeoutMs?: number; signal?: AbortSignal }) {
  if (timeoutMs === undefined && !signal) return p;
  return new Promise<void>((resolve, reject) => {
    // An already-aborted signal fires no event: check it now, or we would wait out the whole queue.
    if (signal?.aborted) {
      reject(new HpauthError("CANCELLED", "Cancelled while waiting for the token lock."));
      return;
    }
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            reject(
              new HpauthError("LOCK_TIMEOUT", `Timed out after ${timeoutMs} ms waiting for another token operation.`, {
                hint: "Another hpauth process holds the lock on this credential; retry, or raise the lock timeout.",
              }),
            );
          }, timeoutMs);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new HpauthError("CANCELLED", "Cancelled while waiting for the token lock."));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    p.then(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
