/** 1000 concurrent getToken() callers on an expired token cause exactly one refresh (emulator counters). */
import { describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { useHarness } from "./helpers.js";

const h = useHarness({}, { reset: false });

describe("single flight", () => {
  it("1000 callers on one manager, expired token: one refresh", async () => {
    const m = h.manager("techpulse");
    await m.getToken();
    await h.advance(3600);
    await h.emu.admin.resetCounters();
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => m.getToken()));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    const c = await h.counters("techpulse");
    expect(c.refreshes).toBe(1);
    expect(c.tokenRequests).toBe(1);
  });

  it("1000 callers across 10 managers sharing a store (as processes share a file store): one refresh", async () => {
    const store = new MemoryTokenStore();
    const seed = createTokenManager({ profile: h.profile("aruba-central"), store, runtime: h.runtime });
    await seed.getToken();
    await h.advance(7200);
    await h.emu.admin.resetCounters();
    const managers = Array.from({ length: 10 }, () =>
      createTokenManager({ profile: h.profile("aruba-central"), store, runtime: h.runtime }),
    );
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => managers[i % 10]!.getToken()));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    const c = await h.counters("aruba-central");
    expect(c.refreshes).toBe(1);
    expect(c.logins).toBe(0);
  });
});
