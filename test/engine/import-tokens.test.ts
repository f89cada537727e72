/** importTokens() refuses an import with nothing to refresh with, as a usage error, before anything is sent. */
import { describe, expect, it } from "vitest";
import { useHarness } from "./helpers.js";

const h = useHarness();

describe("importTokens", () => {
  it("an empty refresh token and no access token: USAGE, nothing sent, nothing stored", async () => {
    const m = h.manager("aruba-central");
    const err = await m.importTokens({ refreshToken: "" }).catch((e) => e);
    expect(err.code).toBe("USAGE");
    expect(err.message).toBe("Nothing to import: give a refresh token or an access token");
    expect(await m.store.get(m.key)).toBeUndefined();
    const c = await h.counters("aruba-central");
    expect(c.tokenRequests + c.logins).toBe(0);
  });

  it("an empty refresh token beside an expired access token: INVALID_GRANT with the hint, nothing sent", async () => {
    const m = h.manager("aruba-central");
    const err = await m
      .importTokens({ refreshToken: "", accessToken: "some-access-token", expiresIn: 0 })
      .catch((e) => e);
    expect(err.code).toBe("INVALID_GRANT");
    expect(err.message).toBe("The imported access token is expired or its lifetime is unknown");
    expect(err.hint).toBe("Pass expiresIn with the token, or obtain a new one.");
    expect((await h.counters("aruba-central")).tokenRequests).toBe(0);
  });

  it("a provider without refresh grant still says it needs an access token", async () => {
    const m = h.manager("greenlake");
    const err = await m.importTokens({ refreshToken: "r" }).catch((e) => e);
    expect(err.code).toBe("USAGE");
    expect(err.message).toBe(
      "HPE GreenLake Data Services Cloud Console has no refresh grant: import needs an access token",
    );
  });

  it("an access token with its lifetime and no refresh token is imported as it is", async () => {
    const m = h.manager("aruba-central");
    const t = await m.importTokens({ refreshToken: "", accessToken: "imported-access", expiresIn: 3600 });
    expect(t.accessToken).toBe("imported-access");
    const rec = await m.store.get(m.key);
    expect(rec?.refreshToken).toBeUndefined();
    expect(rec?.meta).toEqual({ imported: true });
    expect(rec?.lastLoginAt).toBeUndefined();
  });
});
