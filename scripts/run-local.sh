#!/usr/bin/env bash
# The main job on the embedded default stack (`local`): `pulumi up` where the tools exist, otherwise the
# offline plan of exactly what `pulumi up` would do, saying which tools are missing.
#
# Side effects stay out of the working tree and out of the user's Pulumi login:
# - the backend is given to each command with PULUMI_BACKEND_URL (default: a file backend in
#   .pulumi-state/, ignored by Git); `pulumi login` is never run;
# - the stack's secrets (its state holds both clusters' admin kubeconfigs) are encrypted with the
#   passphrase in PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, or else with one generated
#   once into $FLEET_CONFIG_DIR/local.passphrase (mode 0600);
# - Pulumi writes the stack's encryption salt, and any secret set with `pulumi config set --secret`,
#   into the stack config file: that file is $FLEET_CONFIG_DIR/Pulumi.local.yaml (`--config-file`),
#   rebuilt on every run from the tracked Pulumi.local.yaml plus the salt and the secrets it already holds.
# FLEET_CONFIG_DIR defaults to ${XDG_CONFIG_HOME:-~/.config}/fleet-bootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in pulumi docker kind clusterctl kubectl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if command -v docker >/dev/null 2>&1 && ! docker_error=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
  missing+=("a running Docker engine (docker is installed, but its engine does not answer: ${docker_error%%$'\n'*})")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "Not on this machine: ${missing[*]}." >&2
  echo "Writing the offline plan of 'pulumi up -s local' instead (same program, under Pulumi's mocks)." >&2
  exec npx tsx tools/plan.ts local "$@"
fi

config_dir=${FLEET_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/fleet-bootstrap}
mkdir -p "$config_dir"
chmod 0700 "$config_dir"
case "$(cd "$config_dir" && pwd -P)/" in
  "$(pwd -P)/"*)
    echo "FLEET_CONFIG_DIR ($config_dir) is inside the repository; the passphrase and the stack's salt must live outside it." >&2
    exit 1
    ;;
esac

if [[ -n ${PULUMI_CONFIG_PASSPHRASE+set} && -z $PULUMI_CONFIG_PASSPHRASE ]]; then
  echo "PULUMI_CONFIG_PASSPHRASE is set but empty: the stack's state holds cluster credentials, so it needs a real passphrase. Unset it to use a generated one, or set one." >&2
  exit 1
fi
if [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
  passphrase_file="$config_dir/local.passphrase"
  if [[ ! -s $passphrase_file ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$passphrase_file.partial" && mv "$passphrase_file.partial" "$passphrase_file")
    echo "Generated the passphrase of the local stack's secrets into $passphrase_file (mode 0600): keep it, the state cannot be decrypted without it." >&2
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$passphrase_file"
fi
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"
if [[ $PULUMI_BACKEND_URL == "file://$PWD/.pulumi-state" ]]; then
  mkdir -p .pulumi-state
fi

stack_config="$config_dir/Pulumi.local.yaml"
stacks=$(pulumi stack ls --json)
if ! node -e 'process.exit(JSON.parse(process.argv[1]).some((s) => /^(organization\/fleet-bootstrap\/)?local$/.test(s.name)) ? 0 : 1)' "$stacks"; then
  # `stack init` writes the new stack's encryption salt into Pulumi.local.yaml of the directory it runs in:
  # run it beside a copy of the project file, and keep what it wrote outside the repository.
  scratch=$(mktemp -d)
  cp Pulumi.yaml "$scratch/"
  (cd "$scratch" && pulumi stack init local --secrets-provider passphrase --no-select) || { rm -rf "$scratch" && exit 1; }
  install -m 0600 "$scratch/Pulumi.local.yaml" "$stack_config"
  rm -rf "$scratch"
fi
if [[ ! -f $stack_config ]] && grep -q '^encryptionsalt:' Pulumi.local.yaml; then
  # Written there by an earlier version of this script: move it out (then `git checkout Pulumi.local.yaml`).
  install -m 0600 Pulumi.local.yaml "$stack_config"
  echo "Took the stack's encryption salt from Pulumi.local.yaml into $stack_config; restore the tracked file with: git checkout Pulumi.local.yaml" >&2
fi
[[ -f $stack_config ]] ||
  { echo "the stack 'local' exists in $PULUMI_BACKEND_URL but $stack_config (its encryption salt) is missing: restore it, or remove the stack (pulumi stack rm local) to start over." >&2 && exit 1; }

# The tracked configuration wins; the salt and the encrypted values set with --config-file are kept.
node -e '
  const fs = require("fs");
  const yaml = require("js-yaml");
  const [tracked, own] = process.argv.slice(1).map((f) => yaml.load(fs.readFileSync(f, "utf8")) || {});
  const secrets = Object.entries(own.config || {}).filter(([, v]) => v && typeof v === "object" && "secure" in v);
  const merged = { ...own, config: { ...Object.fromEntries(secrets), ...(tracked.config || {}) } };
  fs.writeFileSync(process.argv[2], yaml.dump(merged, { lineWidth: -1 }), { mode: 0o600 });
' Pulumi.local.yaml "$stack_config"

exec pulumi up -s local --config-file "$stack_config" "$@"
