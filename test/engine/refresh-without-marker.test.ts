/**
 * refreshMarker: false — the refresh saves its result in one write, from the record it read: what that record said
 * about the grant (when it was logged in, scope, extras) is kept as with the marker.
 */
import { describe, expect, it } from "vitest";
import { useHarness } from "./helpers.js";

const h = useHarness();

describe("a refresh without the marker", () => {
  it("keeps the record's login time and refresh-token issue time, and saves no marker", async () => {
    const m = h.manager("aruba-central", {}, { refreshMarker: false });
    await m.getToken();
    const before = await m.store.get(m.key);
    expect(before?.lastLoginAt).toBeTypeOf("number");
    await h.advance(7200);
    expect((await m.getToken()).source).toBe("refresh");
    const after = await m.store.get(m.key);
    expect(after?.lastLoginAt).toBe(before?.lastLoginAt);
    expect(after?.refreshToken).not.toBe(before?.refreshToken);
    expect(after?.refreshPendingSince).toBeUndefined();
    expect(after?.lastRefreshAt).toBeGreaterThan(before?.lastLoginAt ?? Number.POSITIVE_INFINITY);
  });
});
