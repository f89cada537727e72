import { DEFAULT_LOCK_TIMEOUT_MS, KeyedMutex } from "./mutex.js";
import { readRecord } from "./record.js";
import type { LockOptions, TokenRecord, TokenStore } from "./types.js";

/** Tokens in this process only: for tests, short-lived scripts, and as the library's fallback. */
export class MemoryTokenStore implements TokenStore {
  readonly kind = "memory";
  readonly #records = new Map<string, string>();
  readonly #mutex = new KeyedMutex();

  async get(key: string): Promise<TokenRecord | undefined> {
    const raw = this.#records.get(key);
    // Stored serialised so callers can never mutate what the store holds. Checked like any store's read: a library
    // caller may have set() anything.
    if (raw === undefined) return undefined;
    return readRecord(JSON.parse(raw), {
      where: `Token record "${key}" (memory store)`,
      warn: (m) => process.emitWarning(m, { code: "HPAUTH_STORE" }),
    });
  }

  // No SetOptions: an in-process lock cannot be lost, so the precondition never applies.
  async set(key: string, record: TokenRecord): Promise<void> {
    this.#records.set(key, JSON.stringify(record));
  }

  async delete(key: string): Promise<void> {
    this.#records.delete(key);
  }

  async list(): Promise<string[]> {
    return [...this.#records.keys()];
  }

  withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    return this.#mutex.run(key, fn, { ...options, timeoutMs: options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS });
  }
}
