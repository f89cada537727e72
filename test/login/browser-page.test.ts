/**
 * The callback page as a real browser sees it: our CSP lets our own style through and nothing else, the forged
 * callback shows a 401 page while the login goes on, and the code never reaches the page.
 */
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoopbackAuthorizer } from "../../src/engine/login/authorizer.js";
import { browserPage, chromiumAvailable, launchChromium } from "./chromium.js";
import { callbackUrl, fakeRequest, stateOf } from "./helpers.js";

/** The DOM lib is not in this project's tsconfig; the one call the page check needs. */
interface StyleWindow {
  getComputedStyle(e: unknown): { color: string };
}

describe.skipIf(!chromiumAvailable)("callback page in headless Chromium", () => {
  let browser: Browser;
  let context: BrowserContext;
  beforeAll(async () => {
    browser = await launchChromium();
    context = await browser.newContext();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  it("forged callback: 401 page; real callback: success page, style allowed by CSP, no other request", async () => {
    const { page } = await browserPage(context);
    const cspViolations: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("request", (r) => requests.push(r.url()));
    const statuses: number[] = [];
    let browsing: Promise<void> = Promise.resolve();
    const authorize = createLoopbackAuthorizer({
      env: { DISPLAY: ":0" },
      platform: "linux",
      openBrowser: async (url) => {
        browsing = navigate(url);
      },
    });
    const navigate = async (url: string) => {
      const forged = await page.goto(callbackUrl(url, { code: "FORGED", state: "wrong" }));
      statuses.push(forged!.status());
      expect(await page.textContent("h1")).toBe("Not this login");
      const real = await page.goto(callbackUrl(url, { code: "REAL-CODE", state: stateOf(url) }));
      statuses.push(real!.status());
    };
    const result = await authorize(fakeRequest());
    await browsing;
    expect(result.code).toBe("REAL-CODE");
    expect(statuses).toEqual([401, 200]);
    expect(await page.textContent("h1")).toBe("Login complete");
    expect(await page.content()).not.toContain("REAL-CODE");
    // The inline style is allowed by its hash: the heading is green, and Chromium reported no CSP violation.
    expect(await page.$eval("h1", (h) => (globalThis as unknown as StyleWindow).getComputedStyle(h).color)).toBe(
      "rgb(10, 125, 50)",
    );
    expect(cspViolations).toEqual([]);
    // Only the two navigations (and a favicon probe at most): no third-party resources.
    expect(requests.filter((u) => !u.endsWith("/favicon.ico"))).toHaveLength(2);
    for (const u of requests) expect(new URL(u).hostname).toBe("127.0.0.1");
  });
});
