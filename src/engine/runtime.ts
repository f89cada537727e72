/**
 * Everything that touches the outside world, injected: time, randomness, fetch, sleep, the environment.
 * Tests pass their own (e.g. `now` tied to the emulator's clock) without mocking modules.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";

export interface Runtime {
  /** Milliseconds since the epoch. */
  now(): number;
  randomBytes(size: number): Uint8Array;
  fetch: typeof globalThis.fetch;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  env: Readonly<Record<string, string | undefined>>;
}

export function defaultRuntime(overrides: Partial<Runtime> = {}): Runtime {
  return {
    now: () => Date.now(),
    randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)),
    fetch: (input, init) => globalThis.fetch(input, init),
    sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined),
    env: process.env,
    ...overrides,
  };
}
