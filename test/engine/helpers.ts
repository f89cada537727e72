/** Shared test plumbing for the engine: the emulator with a clock the engine can follow, a scripted browser user. */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { scriptedBrowser } from "../../src/cli/commands/demo-browser.js";
import { type Emulator, type EmulatorOptions, startEmulator } from "../../src/emulator/index.js";
import type { TokenManagerOptions } from "../../src/engine/manager.js";
import { createTokenManager } from "../../src/engine/manager.js";
import type { Runtime } from "../../src/engine/runtime.js";
import type { EngineEvent, InteractiveAuthorizer, NamedProfile, ProviderId } from "../../src/engine/types.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import type { TokenStore } from "../../src/stores/types.js";

export type EmuProvider = "techpulse" | "wxp" | "greenlake" | "aruba-central" | "hpe-identity" | "greenlake-platform";

export interface Harness {
  emu: Emulator;
  /** Follows the emulator clock (real time + the admin API's offset). */
  now: () => number;
  advance(seconds: number): Promise<void>;
  /** Runtime parts for the engine: emulator clock, sleeps recorded and shortened. */
  runtime: Partial<Runtime>;
  sleeps: number[];
  profile(provider: EmuProvider, extra?: Partial<NamedProfile>): NamedProfile;
  manager(
    provider: EmuProvider,
    extra?: Partial<NamedProfile>,
    opts?: Partial<TokenManagerOptions>,
  ): ReturnType<typeof createTokenManager> & { events: EngineEvent[]; store: TokenStore };
  counters(provider: EmuProvider): Promise<{
    logins: number;
    codes: number;
    tokensIssued: number;
    refreshes: number;
    tokenRequests: number;
    apiCalls: number;
    refusals: Record<string, number>;
  }>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const emu = await startEmulator({ port: 0, ...options });
  let offsetMs = ((await emu.admin.clock()).offsetSeconds ?? 0) * 1000;
  const sleeps: number[] = [];
  const now = () => Date.now() + offsetMs;
  const runtime: Partial<Runtime> = {
    now,
    // Retries are exercised for real but a 4 s backoff is not waited out in a unit test: record it, sleep 1 ms.
    sleep: async (ms: number) => {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, 1));
    },
    env: {},
  };
  const h: Harness = {
    emu,
    now,
    runtime,
    sleeps,
    async advance(seconds) {
      const c = await emu.admin.advanceClock(seconds);
      offsetMs = c.offsetSeconds * 1000;
    },
    profile(provider, extra = {}) {
      const info = emu.providers[provider];
      const p: NamedProfile = { name: `${provider}-test`, provider: provider as ProviderId, baseUrl: info.baseUrl };
      if (info.clientId && provider !== "wxp") p.clientId = info.clientId;
      if (info.clientSecret) p.clientSecret = info.clientSecret;
      if (info.username) p.username = info.username;
      if (info.password) p.password = info.password;
      if (info.customerId) p.customerId = info.customerId;
      if (info.redirectUri) p.redirectUri = info.redirectUri;
      if (info.workspaceId) p.workspaceId = info.workspaceId;
      return { ...p, ...extra };
    },
    manager(provider, extra = {}, opts = {}) {
      const events: EngineEvent[] = [];
      const store = opts.store ?? new MemoryTokenStore();
      const m = createTokenManager({
        profile: h.profile(provider, extra),
        store,
        runtime: { ...runtime, ...opts.runtime },
        onEvent: (e) => events.push(e),
        ...(provider === "techpulse" ? { authorizer: emulatorUser(emu, provider) } : {}),
        ...opts,
      });
      return Object.assign(m, { events, store });
    },
    async counters(provider) {
      return (await emu.admin.counters())[provider];
    },
    async reset() {
      await emu.admin.reset();
      offsetMs = ((await emu.admin.clock()).offsetSeconds ?? 0) * 1000;
      sleeps.length = 0;
    },
    close: () => emu.close(),
  };
  return h;
}

/**
 * A scripted user at a browser, over plain HTTP: GET the authorization URL, sign in, press Allow, read code and
 * state from the Location header of the redirect to redirect_uri. Checks state like a real authorizer must.
 */
export function emulatorUser(
  emu: Emulator,
  provider: EmuProvider,
  decision: "allow" | "deny" = "allow",
): InteractiveAuthorizer {
  const info = emu.providers[provider];
  return scriptedBrowser({ username: info.username ?? "", password: info.password ?? "", decision });
}

/**
 * One emulator harness for a test file: started before its tests, closed after, and (unless `reset: false`)
 * reset before each test. The returned object forwards to the harness once it is running.
 */
export function useHarness(options: EmulatorOptions = {}, { reset = true }: { reset?: boolean } = {}): Harness {
  let current: Harness | undefined;
  beforeAll(async () => {
    current = await startHarness(options);
  });
  afterAll(async () => {
    await current?.close();
  });
  if (reset) {
    beforeEach(async () => {
      await current!.reset();
    });
  }
  return new Proxy({} as Harness, {
    get: (_, prop) => {
      if (!current) throw new Error("the harness is used before beforeAll started it");
      return Reflect.get(current, prop);
    },
  });
}
