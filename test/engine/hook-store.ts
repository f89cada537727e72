/**
 * A TokenStore for engine tests of the lost-lock rules: the public store interface around a MemoryTokenStore, with
 * the rule every store documents (SetOptions): once the writer's lock was lost, a write goes ahead only when its
 * `ifCurrent` precondition holds for the stored record. Hooks run before the n-th write: another holder's action
 * (it took our lock over and saved something), or a failure to inject.
 */
import { MemoryTokenStore } from "../../src/stores/memory.js";
import type { LockOptions, SetOptions, TokenRecord, TokenStore } from "../../src/stores/types.js";

export class HookStore implements TokenStore {
  readonly kind = "hook";
  readonly inner = new MemoryTokenStore();
  /** Set once another process took our lock over: writes then need their ifCurrent precondition to hold. */
  lockLost = false;
  /** Every write asked for (accepted or not), in order. */
  readonly writes: TokenRecord[] = [];
  /** Runs before the n-th write (0-based) is decided. */
  readonly before = new Map<number, () => Promise<void> | void>();
  get(key: string): Promise<TokenRecord | undefined> {
    return this.inner.get(key);
  }
  async set(key: string, record: TokenRecord, options?: SetOptions): Promise<void> {
    const n = this.writes.length;
    this.writes.push(structuredClone(record));
    await this.before.get(n)?.();
    if (this.lockLost && !options?.ifCurrent?.(await this.inner.get(key))) {
      throw new Error(`the lock on "${key}" was lost and the record changed`);
    }
    return this.inner.set(key, record);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    return this.inner.withLock(key, fn, options);
  }
}
