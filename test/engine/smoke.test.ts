import { describe, expect, it } from "vitest";
import { useHarness } from "./helpers.js";

const h = useHarness({}, { reset: false });

describe("smoke", () => {
  it.each(["techpulse", "wxp", "greenlake", "aruba-central", "hpe-identity", "greenlake-platform"] as const)(
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
