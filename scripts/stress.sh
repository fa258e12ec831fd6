#!/usr/bin/env bash
# stress.sh - `npm test` several times in a row on a busy machine: one busy loop per core runs beside
# it, as on a CI machine that has other work. A test that fails only here depends on the machine's
# speed, which no test may (each wait is for an event, with a generous bound that names it).
#
#   FLEET_STRESS_RUNS            how many runs of `npm test`, each of which must pass (default 3)
#   FLEET_STRESS_LOOPS           busy loops beside them (default: nproc)
#   FLEET_STRESS_BOUND_SECONDS   each busy loop stops by itself after this long, also when this script
#                                is killed (default 3600)
#
# Prints one line per run with its time; exits non-zero at the first failing run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${FLEET_STRESS_RUNS:-3}
loops=${FLEET_STRESS_LOOPS:-$(nproc)}
bound=${FLEET_STRESS_BOUND_SECONDS:-3600}
for knob in "FLEET_STRESS_RUNS=$runs" "FLEET_STRESS_LOOPS=$loops" "FLEET_STRESS_BOUND_SECONDS=$bound"; do
  if ! [[ ${knob#*=} =~ ^[0-9]+$ ]]; then
    printf 'stress: %s must be a whole number, got %s\n' "${knob%%=*}" "'${knob#*=}'" >&2
    exit 2
  fi
done

busy=()
stop_busy() {
  if ((${#busy[@]} > 0)); then kill "${busy[@]}" 2>/dev/null || true; fi
}
trap stop_busy EXIT
for ((i = 0; i < loops; i++)); do
  timeout "$bound" bash -c 'while :; do :; done' &
  busy+=($!)
done
printf 'stress: %d busy loop(s) running beside %d run(s) of npm test (%d cores)\n' "$loops" "$runs" "$(nproc)" >&2

for ((run = 1; run <= runs; run++)); do
  started=$SECONDS
  if ! npm test; then
    printf 'stress: run %d of %d FAILED after %d s under load\n' "$run" "$runs" $((SECONDS - started)) >&2
    exit 1
  fi
  printf 'stress: run %d of %d passed in %d s under load\n' "$run" "$runs" $((SECONDS - started)) >&2
done
printf 'stress: all %d runs passed\n' "$runs" >&2
