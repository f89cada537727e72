/** `hpauth login`: definition (flags → RunLoginOptions). The runner is ./login.ts (listener, browser), lazily. */
import { defineCommand, parsePort, parsePositive } from "../command.js";
import type { RunLoginOptions } from "./login.js";

export const login = defineCommand<RunLoginOptions>({
  name: "login",
  summary:
    "Log in (browser for TechPulse / oauth2 authorization_code; a new grant for the others) or import a token pair",
  examples: [
    "hpauth login -p techpulse",
    "hpauth login -p techpulse --no-browser --port 8765   # over ssh -L 8765:127.0.0.1:8765",
    "hpauth login -p aruba --import ~/Downloads/token.json",
    "hpauth login -p aruba --import - < token.json",
  ],
  configure: (cmd) => {
    cmd
      .option("--no-browser", "print the authorization URL and read the redirected address back (ssh, containers)")
      .option("--paste", "the same as --no-browser")
      .option("--port <n>", "fixed loopback port for the redirect (for ssh -L); default: the profile's", parsePort)
      .option("--import <file>", "import a token pair (Aruba Central UI download, JSON); `-` reads stdin")
      .option("--import-tokens", "the same as --import -")
      .option("--timeout <seconds>", "how long to wait for the browser (default 300)", parsePositive("--timeout"));
  },
  options: ({ global, flags }) => ({
    ...global,
    browser: flags.browser !== false,
    ...(flags.paste === true ? { paste: true } : {}),
    ...(typeof flags.port === "number" ? { port: flags.port } : {}),
    ...(typeof flags.import === "string" ? { import: flags.import } : {}),
    ...(flags.importTokens === true ? { importTokens: true } : {}),
    ...(typeof flags.timeout === "number" ? { timeout: flags.timeout } : {}),
  }),
  load: async () => (await import("./login.js")).runLogin,
});
