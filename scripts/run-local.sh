#!/usr/bin/env bash
# The main job on the embedded default stack (`local`): `pulumi up` where the tools exist, otherwise the
# offline plan of exactly what `pulumi up` would do, saying which tools are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in pulumi docker kind clusterctl kubectl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -eq 0 ] && ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  missing+=("a running Docker engine")
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "Not on this machine: ${missing[*]}." >&2
  echo "Writing the offline plan of 'pulumi up -s local' instead (same program, under Pulumi's mocks)." >&2
  exec npx tsx tools/plan.ts local "$@"
fi

# A local file backend in the repository (ignored by Git); the local stack holds no secrets by default.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
mkdir -p .pulumi-state
pulumi login "file://$PWD/.pulumi-state" >/dev/null
pulumi stack select local 2>/dev/null || pulumi stack init local
exec pulumi up -s local "$@"
