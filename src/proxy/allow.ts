/**
 * The optional allow-list of a listener: `METHOD /path/glob` rules (kubectl proxy's accept-paths, with methods).
 * `*` matches within one path segment, `**` across segments (picomatch, the glob matcher most of npm uses);
 * METHOD is a name, a comma list (`GET,HEAD`) or `*`. A rule may be limited to one profile: `aruba: GET /monitoring/**`.
 * With no rule for a listener everything is forwarded; with rules, a request no rule matches gets 403.
 */
import picomatch from "picomatch";
import { HpauthError } from "../engine/errors.js";

export interface AllowRule {
  /** Profile it applies to; undefined: every listener. */
  profile?: string;
  /** Upper-case method names; undefined: any method. */
  methods?: ReadonlySet<string>;
  glob: string;
  /** The rule as written, for messages. */
  source: string;
  match(path: string): boolean;
}

const METHOD = /^[A-Za-z]+$/;

/** Parses one rule; a malformed rule is a usage error naming it. */
export function parseAllowRule(text: string): AllowRule {
  const source = text.trim();
  let rest = source;
  let profile: string | undefined;
  const colon = /^([A-Za-z0-9_.@-]+):\s+/.exec(rest);
  if (colon) {
    profile = colon[1];
    rest = rest.slice(colon[0].length);
  }
  const m = /^(\S+)\s+(\/\S*)$/.exec(rest);
  const bad = (why: string) =>
    new HpauthError("USAGE", `Allow rule "${source}": ${why}`, {
      hint: 'Write rules as "METHOD /path/glob", e.g. "GET /monitoring/v2/**" or "GET,HEAD /api/v1/*" or "* /**".',
    });
  if (!m) throw bad("expected a method and a path starting with /");
  const [, methodPart = "", glob = ""] = m;
  let methods: Set<string> | undefined;
  if (methodPart !== "*") {
    methods = new Set();
    for (const name of methodPart.split(",")) {
      if (!METHOD.test(name)) throw bad(`"${name}" is not an HTTP method`);
      methods.add(name.toUpperCase());
    }
  }
  const matcher = picomatch(glob, { dot: true });
  const rule: AllowRule = { glob, source, match: (path) => matcher(path) };
  if (profile !== undefined) rule.profile = profile;
  if (methods) rule.methods = methods;
  return rule;
}

/** Rules from a file: one per line, `#` comments and blank lines ignored. */
export function parseAllowFile(text: string, file: string): AllowRule[] {
  const rules: AllowRule[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const t = line.replace(/(^|\s)#.*$/, "").trim();
    if (!t) continue;
    try {
      rules.push(parseAllowRule(t));
    } catch (e) {
      if (e instanceof HpauthError) throw new HpauthError("USAGE", `${file}:${i + 1}: ${e.message}`, { hint: e.hint });
      throw e;
    }
  }
  return rules;
}

/** The rules for one listener. */
export function rulesFor(rules: readonly AllowRule[], profile: string): AllowRule[] {
  return rules.filter((r) => r.profile === undefined || r.profile === profile);
}

export function allowed(rules: readonly AllowRule[], method: string, path: string): boolean {
  if (rules.length === 0) return true;
  return rules.some((r) => (!r.methods || r.methods.has(method)) && r.match(path));
}
