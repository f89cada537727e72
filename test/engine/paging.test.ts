/** The providers' paging styles: where the next page starts, and when the last one was seen. */
import { describe, expect, it } from "vitest";
import { nextPageUrl, pageItems, pagingStyle } from "../../src/engine/paging.js";

describe("paging", () => {
  it("styles per provider", () => {
    expect(pagingStyle("greenlake")).toBe("offset-limit");
    expect(pagingStyle("aruba-central")).toBe("offset-limit");
    expect(pagingStyle("techpulse")).toBe("startindex-count");
    expect(pagingStyle("wxp")).toBeUndefined();
    expect(pagingStyle("hpe-identity")).toBeUndefined();
    expect(pagingStyle("greenlake-platform")).toBe("offset-limit");
    expect(pagingStyle("new-central")).toBe("limit-next");
  });

  it("limit/next (new Central): the answer's next cursor goes back as ?next=; null, absent or unmoved stops", () => {
    const u = new URL("https://x/network-monitoring/v1/aps?limit=2&filter=a");
    const next = nextPageUrl("limit-next", u, { items: [1, 2], count: 2, total: 5, next: 3 });
    expect(next?.searchParams.get("next")).toBe("3");
    expect(next?.searchParams.get("limit")).toBe("2");
    expect(next?.searchParams.get("filter")).toBe("a");
    expect(nextPageUrl("limit-next", next!, { items: [5], total: 5, next: null })).toBeUndefined();
    expect(nextPageUrl("limit-next", next!, { items: [5], total: 5 })).toBeUndefined();
    expect(nextPageUrl("limit-next", next!, { items: [3, 4], next: 3 })).toBeUndefined();
    expect(nextPageUrl("limit-next", u, { items: [], next: 9 })).toBeUndefined();
    // An opaque cursor is sent back as it came.
    expect(nextPageUrl("limit-next", u, { items: [1], next: "eyJvZmZzZXQiOjJ9" })?.searchParams.get("next")).toBe(
      "eyJvZmZzZXQiOjJ9",
    );
  });

  it("offset/limit: next offset after the items received; stops at the total or a short page", () => {
    const u = new URL("https://x/api/v1/storage-systems?limit=2&filter=a");
    const next = nextPageUrl("offset-limit", u, { items: [1, 2], count: 2, offset: 0, total: 5 });
    expect(next?.searchParams.get("offset")).toBe("2");
    expect(next?.searchParams.get("limit")).toBe("2");
    expect(next?.searchParams.get("filter")).toBe("a");
    expect(nextPageUrl("offset-limit", next!, { items: [3, 4], total: 5 })?.searchParams.get("offset")).toBe("4");
    expect(
      nextPageUrl("offset-limit", new URL("https://x/?offset=4&limit=2"), { items: [5], total: 5 }),
    ).toBeUndefined();
    expect(nextPageUrl("offset-limit", new URL("https://x/?limit=10"), { aps: [1, 2, 3] })).toBeUndefined();
    expect(nextPageUrl("offset-limit", u, { items: [], total: 9 })).toBeUndefined();
  });

  it("startIndex/count with TechPulse's totalCount and resources", () => {
    const u = new URL("https://x/report?count=5");
    const body = { totalCount: 12, startIndex: 0, count: 5, resources: [1, 2, 3, 4, 5] };
    expect(pageItems(body)).toHaveLength(5);
    expect(nextPageUrl("startindex-count", u, body)?.searchParams.get("startIndex")).toBe("5");
    expect(
      nextPageUrl("startindex-count", new URL("https://x/report?startIndex=10&count=5"), {
        totalCount: 12,
        resources: [1, 2],
      }),
    ).toBeUndefined();
  });
});
