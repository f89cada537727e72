/**
 * The page the browser shows after the redirect to our loopback listener. It is ours, self-contained (no scripts,
 * no third-party resources, one inline style allowed by hash), never cached, never sends a Referer (the callback URL
 * carried the code), and never echoes the code.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";

const STYLE =
  "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;" +
  "color:#1d1d1f;line-height:1.5}h1{font-size:1.4rem}.ok{color:#0a7d32}.fail{color:#b3261e}" +
  "p.small{color:#555;font-size:.9rem}";

const STYLE_HASH = createHash("sha256").update(STYLE, "utf8").digest("base64");

/** default-src 'none': nothing loads, nothing runs, nothing is submitted or framed. */
export const CALLBACK_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "img-src 'none'",
  "script-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const CALLBACK_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/html; charset=utf-8",
  "Content-Security-Policy": CALLBACK_CSP,
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  Connection: "close",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageContent {
  title: string;
  kind: "ok" | "fail";
  /** Plain text; escaped here. */
  lines: string[];
}

export function renderPage(content: PageContent): string {
  const paragraphs = content.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join("");
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="referrer" content="no-referrer">` +
    `<title>hpauth: ${escapeHtml(content.title)}</title><style>${STYLE}</style></head>` +
    `<body><h1 class="${content.kind}">${escapeHtml(content.title)}</h1>${paragraphs}` +
    `<p class="small">hpauth login</p></body></html>`
  );
}

export function sendPage(res: ServerResponse, status: number, content: PageContent): void {
  const body = renderPage(content);
  res.writeHead(status, { ...CALLBACK_HEADERS, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** OAuth `error` values are an enum, but a forged callback can put anything there: keep it short and plain. */
export function safeOAuthText(s: string | null | undefined, max = 200): string | undefined {
  if (!s) return undefined;
  const cleaned = s.replace(/[^\x20-\x7e]/g, "").slice(0, max);
  return cleaned.length > 0 ? cleaned : undefined;
}
