/** Headless Chromium (Debian's package) driven by playwright-core, for the end-to-end login tests. */
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.HPAUTH_TEST_CHROMIUM ?? "/usr/bin/chromium";
export const chromiumAvailable = existsSync(CHROMIUM_PATH);
// Locally a missing browser skips the browser tests; in CI (scripts/system-deps.sh installs it) it is a failure,
// so a broken install step can never pass as a green run that tested nothing.
if (!chromiumAvailable && process.env.CI) {
  throw new Error(`Chromium not found at ${CHROMIUM_PATH}: scripts/system-deps.sh should have installed it`);
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // Without the background-networking flags Chromium phones home, and this closed network refuses it slowly.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A page plus the `openBrowser` hook that sends it to the authorization URL, like BROWSER would. */
export async function browserPage(context: BrowserContext): Promise<{
  page: Page;
  openBrowser: (url: string) => Promise<void>;
  opened: string[];
}> {
  const page = await context.newPage();
  const opened: string[] = [];
  return {
    page,
    opened,
    openBrowser: async (url: string) => {
      opened.push(url);
      // Like a real launcher: returns once the browser has the URL, not when the person is done.
      await page.goto(url);
    },
  };
}
