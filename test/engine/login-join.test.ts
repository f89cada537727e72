/** login({ unlessLoggedInSince }): N callers asking for the same new grant at once get one grant between them. */
import { describe, expect, it } from "vitest";
import { createTokenManager } from "../../src/engine/manager.js";
import { MemoryTokenStore } from "../../src/stores/memory.js";
import { useHarness } from "./helpers.js";

const h = useHarness();

describe("login joining", () => {
  it("concurrent logins since the same moment cause one grant; without the option each logs in", async () => {
    const store = new MemoryTokenStore();
    const managers = Array.from({ length: 5 }, () =>
      createTokenManager({ profile: h.profile("greenlake"), store, runtime: h.runtime }),
    );
    const since = h.now();
    const tokens = await Promise.all(managers.map((m) => m.login({ unlessLoggedInSince: since })));
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(tokens.filter((t) => t.source === "login")).toHaveLength(1);
    expect((await h.counters("greenlake")).tokensIssued).toBe(1);

    // A login older than `since` is not joined: the caller asked for a new one.
    const later = h.now() + 1;
    const again = await managers[0]!.login({ unlessLoggedInSince: later });
    expect(again.source).toBe("login");
    expect((await h.counters("greenlake")).tokensIssued).toBe(2);

    // Plain login() always creates a grant.
    await Promise.all(managers.slice(0, 2).map((m) => m.login()));
    expect((await h.counters("greenlake")).tokensIssued).toBe(4);
  });
});
