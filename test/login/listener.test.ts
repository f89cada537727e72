/**
 * The loopback redirect listener and the judging of an authorization response, request by request over a real
 * socket (node:http, so the Host header can be set as a DNS-rebound page would send it): which answers a wrong host,
 * path, method, state or a second callback gets, what the terminal is told (never the code), and how each OAuth
 * error of the redirect maps onto our codes and hints.
 */
import { request } from "node:http";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HpauthError } from "../../src/engine/errors.js";
import { authorizationError, judgeCallback } from "../../src/engine/login/callback.js";
import { type CallbackListener, type ListenerNotice, startCallbackListener } from "../../src/engine/login/listener.js";
import { SingleUseState } from "../../src/engine/login/state.js";

const STATE = "s".repeat(43);
const open: CallbackListener[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
});

async function listen(notices: ListenerNotice[] = [], path = "/callback") {
  const l = await startCallbackListener({
    host: "127.0.0.1",
    port: 0,
    path,
    state: new SingleUseState(STATE),
    context: { provider: "techpulse", profile: "tp" },
    onNotice: (n) => notices.push(n),
  });
  open.push(l);
  return l;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(l: CallbackListener, path: string, opts: { host?: string; method?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: l.port,
        path,
        method: opts.method ?? "GET",
        headers: { host: opts.host ?? `127.0.0.1:${l.port}` },
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("the loopback listener answers", () => {
  it("a foreign Host with 400 and a notice naming it (cut to 100 characters), loopback names with or without a port", async () => {
    const notices: ListenerNotice[] = [];
    const l = await listen(notices);
    const foreign = await get(l, `/callback?state=${STATE}&code=c1`, { host: "evil.example:8080" });
    expect(foreign.status).toBe(400);
    expect(foreign.body).toContain("Wrong host");
    expect(foreign.body).toContain("only answers on the loopback interface");
    expect(notices).toEqual([{ type: "bad-host", host: "evil.example:8080" }]);
    const long = await get(l, "/callback", { host: `${"a".repeat(150)}.example` });
    expect(long.status).toBe(400);
    expect((notices[1] as { host: string }).host).toHaveLength(100);
    // A name that merely starts or ends like a loopback one is foreign too.
    for (const host of ["127.0.0.1.evil.example", "evil.127.0.0.1", "localhost.evil", "[::1]x", "127.0.0.1:80x"]) {
      expect((await get(l, "/callback", { host })).status, host).toBe(400);
    }
    // Loopback names, any case, with or without a port, are ours: the request gets as far as the state check.
    for (const host of ["localhost", `LOCALHOST:${l.port}`, "127.0.0.1", "[::1]", `[::1]:${l.port}`]) {
      expect((await get(l, "/callback", { host })).status, host).toBe(401);
    }
    // The wrong-state answers above did not end the login.
    const ok = await get(l, `/callback?state=${STATE}&code=c1`);
    expect(ok.status).toBe(200);
    await expect(l.result).resolves.toEqual({ code: "c1" });
  });

  it("another path with 404 (a notice, but none for the browser's favicon request), another method with 405 and Allow: GET", async () => {
    const notices: ListenerNotice[] = [];
    const l = await listen(notices);
    const other = await get(l, `/elsewhere?state=${STATE}&code=c2`);
    expect(other.status).toBe(404);
    expect(other.body).toContain("Not found");
    expect(other.body).toContain("waiting for the login redirect on another path");
    const favicon = await get(l, "/favicon.ico");
    expect(favicon.status).toBe(404);
    expect(notices).toEqual([{ type: "not-found", path: "/elsewhere" }]);
    const post = await get(l, `/callback?state=${STATE}&code=c2`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET");
    expect(post.body).toContain("The login redirect is a GET request.");
    // None of them consumed the state: the real callback still works.
    expect((await get(l, `/callback?state=${STATE}&code=c2`)).status).toBe(200);
    await expect(l.result).resolves.toEqual({ code: "c2" });
  });

  it("a missing or wrong state with 401 and the matching notice; the page never shows the code", async () => {
    const notices: ListenerNotice[] = [];
    const l = await listen(notices);
    const missing = await get(l, "/callback?code=secret-code-1");
    expect(missing.status).toBe(401);
    expect(missing.body).toContain("Not this login");
    expect(missing.body).toContain("its state is wrong or missing");
    expect(missing.body).toContain("hpauth keeps waiting for the right response");
    expect(missing.body).not.toContain("secret-code-1");
    const wrong = await get(l, `/callback?state=${"x".repeat(43)}&code=secret-code-2`);
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain("secret-code-2");
    expect(notices).toEqual([
      { type: "forged", reason: "missing" },
      { type: "forged", reason: "mismatch" },
    ]);
    const ok = await get(l, `/callback?state=${STATE}&code=secret-code-3`);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("Login complete");
    expect(ok.body).toContain("You can close this tab and return to the terminal.");
    expect(ok.body).not.toContain("secret-code-3");
    expect(ok.headers["cache-control"]).toBe("no-store");
    expect(ok.headers["referrer-policy"]).toBe("no-referrer");
    await expect(l.result).resolves.toEqual({ code: "secret-code-3" });
  });

  it("an error response with 403 for access_denied, 400 for the others, and rejects the result with the mapped error", async () => {
    const denied = await listen();
    const page = await get(denied, `/callback?state=${STATE}&error=access_denied&error_description=User%20said%20no`);
    expect(page.status).toBe(403);
    expect(page.body).toContain("Login failed");
    expect(page.body).toContain("User said no");
    const e = await denied.result.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HpauthError);
    expect((e as HpauthError).code).toBe("ACCESS_DENIED");

    const other = await listen();
    const p2 = await get(other, `/callback?state=${STATE}&error=invalid_scope`);
    expect(p2.status).toBe(400);
    const e2 = (await other.result.catch((x: unknown) => x)) as HpauthError;
    expect(e2.code).toBe("CONFIG_INVALID");
  });

  it("closes after the one valid callback: the port is free again and close() may be called again", async () => {
    const l = await listen();
    expect((await get(l, `/callback?state=${STATE}&code=c4`)).status).toBe(200);
    await expect(l.result).resolves.toEqual({ code: "c4" });
    await l.close();
    await l.close();
    const s = createServer();
    await new Promise<void>((r, j) => s.once("error", j).listen(l.port, "127.0.0.1", () => r()));
    await new Promise((r) => s.close(r));
  });
});

describe("listening fails with a word on what to do", () => {
  it("a busy port: USAGE naming the address, with --port and --no-browser in the hint", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const e = (await startCallbackListener({
        host: "127.0.0.1",
        port,
        path: "/callback",
        state: new SingleUseState(STATE),
      }).catch((x: unknown) => x)) as HpauthError;
      expect(e).toBeInstanceOf(HpauthError);
      expect(e.code).toBe("USAGE");
      expect(e.message).toBe(`Cannot listen for the login redirect on 127.0.0.1:${port}: the port is in use`);
      expect(e.hint).toBe(
        "Free the port, choose another with --port (if the redirect URI allows it), or use --no-browser.",
      );
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });

  it("[::1] where it is not available (or busy): the address is written in brackets", async () => {
    const l = await startCallbackListener({
      host: "::1",
      port: 0,
      path: "/cb",
      state: new SingleUseState(STATE),
    }).catch((x: unknown) => x);
    if (l instanceof HpauthError) {
      expect(l.code).toBe("USAGE");
      expect(l.message).toMatch(/^The loopback address \[::1\]:0 is not available here$/);
      return;
    }
    const listener = l as CallbackListener;
    open.push(listener);
    expect(listener.host).toBe("::1");
    const e = (await startCallbackListener({
      host: "::1",
      port: listener.port,
      path: "/cb",
      state: new SingleUseState(STATE),
    }).catch((x: unknown) => x)) as HpauthError;
    expect(e.message).toBe(`Cannot listen for the login redirect on [::1]:${listener.port}: the port is in use`);
  });
});

describe("judging an authorization response", () => {
  it("state first: missing, mismatch and used are told apart, and a used state is refused however it comes", () => {
    const state = new SingleUseState(STATE);
    expect(judgeCallback(new URLSearchParams("code=a"), state)).toEqual({ kind: "bad-state", reason: "missing" });
    expect(judgeCallback(new URLSearchParams("code=a&state=nope"), state)).toEqual({
      kind: "bad-state",
      reason: "mismatch",
    });
    expect(judgeCallback(new URLSearchParams(`code=a&state=${STATE}`), state)).toEqual({ kind: "code", code: "a" });
    expect(judgeCallback(new URLSearchParams(`code=b&state=${STATE}`), state)).toEqual({
      kind: "bad-state",
      reason: "used",
    });
  });

  it("neither code nor error: INVALID_RESPONSE with the provider and profile", () => {
    const v = judgeCallback(new URLSearchParams(`state=${STATE}`), new SingleUseState(STATE), {
      provider: "techpulse",
      profile: "tp",
    });
    expect(v.kind).toBe("error");
    const e = (v as { error: HpauthError }).error;
    expect(e.code).toBe("INVALID_RESPONSE");
    expect(e.message).toBe("The authorization response carried neither a code nor an error");
    expect(e.provider).toBe("techpulse");
    expect(e.profile).toBe("tp");
    // Without a context, no empty provider or profile is attached.
    const bare = (
      judgeCallback(new URLSearchParams(`state=${STATE}`), new SingleUseState(STATE)) as { error: HpauthError }
    ).error;
    expect("provider" in bare && bare.provider !== undefined).toBe(false);
    expect("profile" in bare && bare.profile !== undefined).toBe(false);
  });

  it.each([
    [
      "access_denied",
      "ACCESS_DENIED",
      "Access was denied in the browser (access_denied)",
      "allow access on the consent page",
    ],
    ["login_required", "LOGIN_REQUIRED", "The identity provider needs you to sign in (login_required)", undefined],
    [
      "interaction_required",
      "LOGIN_REQUIRED",
      "The identity provider needs you to sign in (interaction_required)",
      undefined,
    ],
    ["consent_required", "LOGIN_REQUIRED", "The identity provider needs you to sign in (consent_required)", undefined],
    [
      "account_selection_required",
      "LOGIN_REQUIRED",
      "The identity provider needs you to sign in (account_selection_required)",
      undefined,
    ],
    [
      "unauthorized_client",
      "INVALID_CLIENT",
      "The identity provider refused the client (unauthorized_client)",
      "registered redirect URIs",
    ],
    [
      "invalid_client",
      "INVALID_CLIENT",
      "The identity provider refused the client (invalid_client)",
      "registered redirect URIs",
    ],
    ["server_error", "SERVER_ERROR", "The identity provider failed (server_error)", undefined],
    ["temporarily_unavailable", "SERVER_ERROR", "The identity provider failed (temporarily_unavailable)", undefined],
    [
      "invalid_scope",
      "CONFIG_INVALID",
      "The identity provider refused the request (invalid_scope)",
      "client id, scope and redirect URI",
    ],
  ])("%s → %s", (oauth, code, message, hint) => {
    const e = authorizationError(oauth, "Some\u0007 words", { provider: "techpulse", profile: "tp" });
    expect(e.code).toBe(code);
    expect(e.message).toBe(`${message}: Some words`);
    expect(e.oauthError).toBe(oauth);
    expect(e.provider).toBe("techpulse");
    expect(e.profile).toBe("tp");
    if (hint) expect(e.hint).toContain(hint);
    else expect(e.hint).toBeUndefined();
    // Without a description, no dangling colon.
    expect(authorizationError(oauth, null).message).toBe(message);
  });

  it("a forged error value is cut to 64 printable characters; an unprintable one reads as unknown_error", () => {
    const e = authorizationError(`${"x".repeat(80)}\u0000`, undefined);
    expect(e.oauthError).toBe("x".repeat(64));
    expect(authorizationError("\u0001\u0002", undefined).oauthError).toBe("unknown_error");
  });
});
