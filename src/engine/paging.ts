/**
 * The paging styles of the providers' APIs, where the API documents one: offset/limit (GreenLake DSCC, the GreenLake
 * platform's `{items, count, offset, total}` lists such as `/devices/v1/devices`, Aruba Central's monitoring API),
 * startIndex/count (TechPulse reports) and limit/next (new Central's `network-monitoring` lists: the answer's `next`
 * is the cursor to send back, null on the last page — aruba/pycentral 2.x `get_all_pages`). Pure functions over the URL and a page's
 * JSON, for `hpauth request --paginate` and for library users who walk pages themselves.
 */
import type { ProviderId } from "./types.js";

export type PagingStyle = "offset-limit" | "startindex-count" | "limit-next";

const STYLES: Partial<Record<ProviderId, PagingStyle>> = {
  greenlake: "offset-limit",
  "aruba-central": "offset-limit",
  techpulse: "startindex-count",
  "greenlake-platform": "offset-limit",
  "new-central": "limit-next",
};

/** The provider's documented paging style, or undefined (WXP's rooms and Identity's warranty check do not page). */
export function pagingStyle(provider: ProviderId): PagingStyle | undefined {
  return STYLES[provider];
}

/** The list a page carries: `items` (DSCC), `aps`… (Aruba), `resources` (TechPulse), else its first array. */
export function pageItems(body: unknown): unknown[] | undefined {
  if (Array.isArray(body)) return body;
  if (!body || typeof body !== "object") return undefined;
  const o = body as Record<string, unknown>;
  for (const k of ["items", "resources", "aps", "data"]) if (Array.isArray(o[k])) return o[k] as unknown[];
  return Object.values(o).find((v): v is unknown[] => Array.isArray(v));
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The URL of the page after the one `url` fetched and `body` answered, or undefined when that was the last: an
 * empty or short page (fewer items than the limit asked for), or the total reached.
 */
export function nextPageUrl(style: PagingStyle, url: URL, body: unknown): URL | undefined {
  const items = pageItems(body);
  if (!items || items.length === 0) return undefined;
  const o = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  if (style === "limit-next") {
    const cursor = o.next;
    if (cursor === null || cursor === undefined || cursor === "" || typeof cursor === "object") return undefined;
    if (String(cursor) === url.searchParams.get("next")) return undefined; // a cursor that does not move: stop
    const u = new URL(url);
    u.searchParams.set("next", String(cursor));
    return u;
  }
  const [startKey, sizeKey, totalKey] =
    style === "offset-limit" ? ["offset", "limit", "total"] : ["startIndex", "count", "totalCount"];
  const start = intParam(url, startKey) ?? 0;
  const size = intParam(url, sizeKey);
  const next = start + items.length;
  const total = o[totalKey];
  if (typeof total === "number" && next >= total) return undefined;
  if (size !== undefined && items.length < size) return undefined;
  if (typeof total !== "number" && size === undefined) return undefined; // no way to tell a last page: stop
  const u = new URL(url);
  u.searchParams.set(startKey, String(next));
  return u;
}
