/**
 * `hpauth completion bash|zsh|fish`: prints a completion script. Each script only collects the words typed so far and
 * asks `hpauth __complete WORD… CURRENT` (src/cli/complete.ts) for the candidates — cobra's design (gh, kubectl) — so
 * commands, flags and profile names come from hpauth itself and never go stale. `__complete` prints
 * `value<TAB>description` lines, and `:files` when the shell should complete file names itself.
 */
import type { CommandIO } from "../io.js";
import type { GlobalOptions } from "../options.js";

export interface CompletionOptions extends GlobalOptions {
  shell: "bash" | "zsh" | "fish";
}

// Words are split from the line up to the cursor (COMP_LINE), not taken from COMP_WORDS: bash splits those at `=`
// and `:` too (COMP_WORDBREAKS), which would cut `redis://host` apart. `-o default`: no candidates → file names.
const BASH = `# hpauth completion for bash. Load it with: eval "$(hpauth completion bash)"  (e.g. in ~/.bashrc)
_hpauth_complete() {
  local line="\${COMP_LINE:0:COMP_POINT}"
  local -a words
  read -ra words <<< "$line"
  [[ "$line" =~ [[:space:]]$ ]] && words+=("")
  local IFS=$'\\n'
  local -a lines
  lines=($("\${words[0]}" __complete "\${words[@]:1}" 2>/dev/null))
  COMPREPLY=()
  local l
  for l in "\${lines[@]}"; do
    [[ "$l" == ":files" ]] && continue
    COMPREPLY+=("\${l%%$'\\t'*}")
  done
  # A single flag that takes no value gets a space after it; every candidate ends the word as typed.
  return 0
}
complete -o default -F _hpauth_complete hpauth
`;

const ZSH = `#compdef hpauth
# hpauth completion for zsh. Save as _hpauth in a directory of $fpath (then compinit), or: source <(hpauth completion zsh)
_hpauth() {
  local -a lines candidates
  local l files=0
  lines=("\${(@f)$(\${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for l in $lines; do
    [[ -z $l ]] && continue
    if [[ $l == ":files" ]]; then files=1; continue; fi
    if [[ $l == *$'\\t'* ]]; then
      candidates+=("\${\${l%%$'\\t'*}//:/\\\\:}:\${l#*$'\\t'}")
    else
      candidates+=("\${l//:/\\\\:}")
    fi
  done
  if (( \${#candidates} )); then
    _describe -t values hpauth candidates
  else
    _files
  fi
}
if [[ "\${funcstack[1]}" == "_hpauth" ]]; then
  _hpauth "$@"
else
  compdef _hpauth hpauth
fi
`;

const FISH = `# hpauth completion for fish. Save as ~/.config/fish/completions/hpauth.fish, or: hpauth completion fish | source
function __hpauth_complete
    set -l tokens (commandline -opc) (commandline -ct)
    set -l lines ($tokens[1] __complete $tokens[2..-1] 2>/dev/null)
    if contains -- :files $lines
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\\n' $lines
end
complete -c hpauth -f -a '(__hpauth_complete)'
`;

export async function runCompletion(options: CompletionOptions, io: CommandIO): Promise<number> {
  io.stdout.write({ bash: BASH, zsh: ZSH, fish: FISH }[options.shell]);
  return 0;
}
