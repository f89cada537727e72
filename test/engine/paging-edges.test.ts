/**
 * `hpauth request --paginate` stops on the last page and never loops: which list a page carries, which query
 * parameters move, and what counts as "no more pages" when a page's own numbers are missing or odd.
 */
import { describe, expect, it } from "vitest";
import { nextPageUrl, pageItems } from "../../src/engine/paging.js";

const next = (style: Parameters<typeof nextPageUrl>[0], url: string, body: unknown) =>
  nextPageUrl(style, new URL(url), body)?.href;

describe("pageItems", () => {
  it("the list a page carries: a bare array, else items, resources, aps, data, else its first array", () => {
    expect(pageItems([1, 2])).toEqual([1, 2]);
    expect(pageItems({ data: [4], aps: [3], resources: [2], items: [1] })).toEqual([1]);
    expect(pageItems({ data: [4], aps: [3], resources: [2] })).toEqual([2]);
    expect(pageItems({ data: [4], aps: [3] })).toEqual([3]);
    expect(pageItems({ other: [5], data: [4] })).toEqual([4]);
    expect(pageItems({ count: 1, devices: [9], more: [8] })).toEqual([9]);
    expect(pageItems({ items: "not a list", rooms: [7] })).toEqual([7]);
  });

  it("no list: undefined", () => {
    for (const body of [null, undefined, "text", 5, true, {}, { count: 0 }]) expect(pageItems(body)).toBeUndefined();
  });
});

describe("nextPageUrl", () => {
  it("offset/limit: continues while pages are full and the total is not reached", () => {
    expect(next("offset-limit", "https://x/l?limit=2", { items: [1, 2], total: 3 })).toBe(
      "https://x/l?limit=2&offset=2",
    );
    // Exactly at the total: the last page.
    expect(next("offset-limit", "https://x/l?limit=2", { items: [1, 2], total: 2 })).toBeUndefined();
    expect(next("offset-limit", "https://x/l?limit=2&offset=2", { items: [3, 4], total: 4 })).toBeUndefined();
    // A full page with no total: go on; a short one: stop.
    expect(next("offset-limit", "https://x/l?limit=2", { items: [1, 2] })).toBe("https://x/l?limit=2&offset=2");
    expect(next("offset-limit", "https://x/l?limit=3", { items: [1, 2] })).toBeUndefined();
    // A short page ends it even when the total says there is more.
    expect(next("offset-limit", "https://x/l?limit=3", { items: [1, 2], total: 10 })).toBeUndefined();
    // A total but no limit asked: go on until the total.
    expect(next("offset-limit", "https://x/l", { items: [1, 2], total: 10 })).toBe("https://x/l?offset=2");
    // A bare array page with a limit.
    expect(next("offset-limit", "https://x/l?limit=2", [1, 2])).toBe("https://x/l?limit=2&offset=2");
  });

  it("no total and no limit: no way to tell the last page, so it stops", () => {
    expect(next("offset-limit", "https://x/l", { items: [1, 2] })).toBeUndefined();
    // A total that is not a number is no total.
    expect(next("offset-limit", "https://x/l", { items: [1, 2], total: "10" })).toBeUndefined();
    expect(next("offset-limit", "https://x/l?limit=2", { items: [1, 2], total: "2" })).toBe(
      "https://x/l?limit=2&offset=2",
    );
  });

  it("an offset or limit that is no whole number ≥ 0 counts as not given", () => {
    for (const bad of ["-2", "1.5", "abc", ""]) {
      expect(next("offset-limit", `https://x/l?limit=2&offset=${bad}`, { items: [1, 2], total: 9 }), bad).toBe(
        "https://x/l?limit=2&offset=2",
      );
      expect(next("offset-limit", `https://x/l?limit=${bad}`, { items: [1, 2] }), bad).toBeUndefined();
    }
    expect(next("offset-limit", "https://x/l?limit=0&offset=0", { items: [1], total: 9 })).toBe(
      "https://x/l?limit=0&offset=1",
    );
    // limit=0 is a limit given: with no total, a page that is not short goes on.
    expect(next("offset-limit", "https://x/l?limit=0", { items: [1] })).toBe("https://x/l?limit=0&offset=1");
  });

  it("startIndex/count moves startIndex and reads totalCount, not offset and total", () => {
    expect(next("startindex-count", "https://x/r?count=2", { resources: [1, 2], totalCount: 5, total: 2 })).toBe(
      "https://x/r?count=2&startIndex=2",
    );
    expect(
      next("startindex-count", "https://x/r?count=2&startIndex=3&offset=0", { resources: [1, 2], totalCount: 9 }),
    ).toBe("https://x/r?count=2&startIndex=5&offset=0");
    expect(next("startindex-count", "https://x/r?limit=2", { resources: [1, 2] })).toBeUndefined();
  });

  it("limit/next: any cursor that is a value; none, empty, an object or the same cursor again stops", () => {
    expect(next("limit-next", "https://x/a?limit=1", { items: [1], next: 0 })).toBe("https://x/a?limit=1&next=0");
    expect(next("limit-next", "https://x/a?limit=1&next=5", { items: [1], next: 6 })).toBe(
      "https://x/a?limit=1&next=6",
    );
    for (const cursor of [null, undefined, "", { page: 2 }, [2]]) {
      expect(next("limit-next", "https://x/a", { items: [1], next: cursor }), String(cursor)).toBeUndefined();
    }
    expect(next("limit-next", "https://x/a?next=abc", { items: [1], next: "abc" })).toBeUndefined();
    // limit/next pages carry no total to reach; only the cursor decides.
    expect(next("limit-next", "https://x/a?limit=5", { items: [1], total: 1, next: "n2" })).toBe(
      "https://x/a?limit=5&next=n2",
    );
  });

  it("a page without items is the last, whatever it says", () => {
    for (const style of ["offset-limit", "startindex-count", "limit-next"] as const) {
      expect(next(style, "https://x/a?limit=2", { items: [], next: "n", total: 9, totalCount: 9 })).toBeUndefined();
      expect(next(style, "https://x/a?limit=2", { next: "n", total: 9 })).toBeUndefined();
      expect(next(style, "https://x/a?limit=2", null)).toBeUndefined();
    }
  });
});
