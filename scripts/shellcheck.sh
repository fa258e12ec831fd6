#!/usr/bin/env bash
# Lints every shell script of the repository with ShellCheck (bash dialect, every severity):
# - the step scripts exactly as they run: for every steps/<step>.sh, the concatenation
#   steps/lib.sh + "\n" + steps/<step>.sh (what render/steps.ts stepScript() returns), with findings
#   reported against the original files and lines;
# - scripts/*.sh as they are.
# (No comment line here may start with the tool's name: ShellCheck would parse it as a directive.)
# Exit status: 0 when clean, 1 on any finding or when shellcheck is missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
steps="$root/steps"
scripts=("$root"/scripts/*.sh)

if ! command -v shellcheck >/dev/null 2>&1; then
  echo "scripts/shellcheck.sh: shellcheck is not installed, so the step scripts cannot be checked." >&2
  echo "Install it (Debian/Ubuntu: apt-get install -y shellcheck; macOS: brew install shellcheck;" >&2
  echo "others: https://github.com/koalaman/shellcheck#installing) and run this again." >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

lib_lines=$(wc -l <"$steps/lib.sh")
findings="$tmp/findings"
: >"$findings"
combined=()
for script in "$steps"/*.sh; do
  name=$(basename "$script")
  [[ $name == lib.sh ]] && continue
  { cat "$steps/lib.sh"; printf '\n'; cat "$script"; } >"$tmp/$name"
  combined+=("$tmp/$name")
done
checked=${#combined[@]}

if ((checked > 0)); then
  # One shellcheck process for all scripts; gcc format: <file>:<line>:<column>: <level>: <message> [SCxxxx]
  shellcheck --shell=bash --severity=style --external-sources --format=gcc "${combined[@]}" >"$tmp/out" 2>&1 || true
  # The scripts/ files run from the repository root's view (their `source` paths are relative to it).
  (cd "$root" && shellcheck --shell=bash --severity=style --external-sources --source-path=SCRIPTDIR --format=gcc "${scripts[@]#"$root/"}") >>"$tmp/out" 2>&1 || true
  while IFS= read -r finding; do
    [[ -z $finding ]] && continue
    file=${finding%%:*}
    rest=${finding#*:}
    line=${rest%%:*}
    tail=${rest#*:}
    name=$(basename "$file")
    if [[ $file != "$tmp/"* || ! $line =~ ^[0-9]+$ ]]; then
      # scripts/*.sh (already repository-relative) and anything shellcheck says about itself
      printf '%s\n' "$finding" >>"$findings"
    elif ((line <= lib_lines)); then
      printf 'steps/lib.sh:%s:%s\n' "$line" "$tail" >>"$findings"
    else
      printf 'steps/%s:%s:%s (as concatenated after lib.sh)\n' "$name" "$((line - lib_lines - 1))" "$tail" >>"$findings"
    fi
  done <"$tmp/out"
fi

if ((checked == 0)); then
  echo "scripts/shellcheck.sh: no step scripts found in $steps" >&2
  exit 1
fi
if [[ -s $findings ]]; then
  sort -u "$findings" >&2
  echo "scripts/shellcheck.sh: shellcheck found $(sort -u "$findings" | wc -l | tr -d ' ') finding(s)" >&2
  exit 1
fi
echo "scripts/shellcheck.sh: $checked step scripts (each with lib.sh) are clean, and so are ${#scripts[@]} scripts/*.sh"
