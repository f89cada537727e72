/** `hpauth completion bash|zsh|fish`: definition. The runner is ./completion.ts, loaded lazily. */
import { defineCommand } from "../command.js";
import type { CompletionOptions } from "./completion.js";

export const completion = defineCommand<CompletionOptions>({
  name: "completion",
  summary: "Print the shell completion script for bash, zsh or fish (commands, flags, profile names)",
  globals: [],
  examples: [
    'eval "$(hpauth completion bash)"                  # in ~/.bashrc',
    "hpauth completion zsh > ~/.zfunc/_hpauth          # with fpath+=(~/.zfunc) before compinit",
    "hpauth completion fish > ~/.config/fish/completions/hpauth.fish",
  ],
  configure: (cmd, { Argument }) => {
    cmd.addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]));
    cmd.addHelpText(
      "after",
      `
The script completes commands, subcommands and flags, and profile names after -p / --profile (read from the config
file at each Tab, so new profiles complete at once). It asks hpauth itself (\`hpauth __complete …\`), so it stays
right when hpauth is upgraded.`,
    );
  },
  options: ({ global, args }) => ({ ...global, shell: args[0] as CompletionOptions["shell"] }),
  load: async () => (await import("./completion.js")).runCompletion,
});
