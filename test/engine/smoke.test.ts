import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe("smoke", () => {
  it.each(["techpulse", "wxp", "greenlake", "aruba-central", "hpe-identity"] as const)(
    "%s gets a token and calls the API",
    async (provider) => {
      const m = h.manager(provider);
      const t = await m.getToken();
      expect(t.source).toBe("login");
      const again = await m.getToken();
      expect(again.source).toBe("cache");
      expect(again.accessToken).toBe(t.accessToken);
    },
  );
});
