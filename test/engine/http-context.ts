/**
 * An HttpContext for calling `send()` (src/engine/http.ts) directly over real sockets: the fetch is the given one
 * (Node's, or a Network's with its proxy and CAs), counted; sleeps are recorded and not waited out; the randomness
 * of the backoff and the clock can be fixed; events are collected.
 */
import { DEFAULT_RETRY, type EventInput, type HttpContext, type RetryPolicy } from "../../src/engine/http.js";
import type { Route } from "../../src/engine/network.js";
import { defaultRuntime, type Runtime } from "../../src/engine/runtime.js";

export interface TestContext {
  ctx: HttpContext;
  events: EventInput[];
  sleeps: number[];
  /** fetch calls made (one per attempt). */
  calls(): number;
}

export function testContext(
  options: {
    fetch?: typeof globalThis.fetch;
    retry?: Partial<RetryPolicy>;
    runtime?: Partial<Runtime>;
    secrets?: string[];
    urlField?: (url: URL) => string | undefined;
    route?: (url: URL) => Route;
    signal?: AbortSignal;
    finishSentRequests?: boolean;
  } = {},
): TestContext {
  const events: EventInput[] = [];
  const sleeps: number[] = [];
  let calls = 0;
  const inner = options.fetch ?? globalThis.fetch;
  const runtime = defaultRuntime({
    env: {},
    fetch: (input, init) => {
      calls++;
      return inner(input, init);
    },
    // A backoff is recorded, not waited out; an aborted signal interrupts it as the real sleep does.
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
    ...options.runtime,
  });
  const ctx: HttpContext = {
    runtime,
    // Generous timeouts: no test here depends on the machine being fast.
    retry: {
      ...DEFAULT_RETRY,
      baseDelayMs: 8,
      maxDelayMs: 16,
      timeoutMs: 20_000,
      nonIdempotentTimeoutMs: 20_000,
      ...options.retry,
    },
    provider: "greenlake",
    profile: "http-test",
    secrets: () => options.secrets ?? [],
    emit: (e) => events.push(e),
    ...(options.urlField ? { urlField: options.urlField } : {}),
    ...(options.route ? { route: options.route } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.finishSentRequests !== undefined ? { finishSentRequests: options.finishSentRequests } : {}),
  };
  return { ctx, events, sleeps, calls: () => calls };
}

/** The rejection of a promise that must reject (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<import("../../src/engine/errors.js").HpauthError> {
  return p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e) => e,
  );
}
