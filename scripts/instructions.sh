#!/usr/bin/env bash
# Instruction counts of the README's Speed-table jobs under callgrind: independent of machine
# load, so a change can be judged on a busy machine.
#
#   scripts/instructions.sh [CHECKOUT] [JOB...]
#
# CHECKOUT defaults to the checkout holding this script; JOBs default to all of them
# (`power_law power_law_exact chinchilla_default chinchilla_one_start hoffmann_grid bootstrap
# approach1 multipower_predict multipower_fit chinchilla_default_real chinchilla_one_start_real
# bootstrap_real`; the `_real` jobs are their namesakes on the 240 real runs of
# `datasets::chinchilla_besiroglu_240` instead of simulated ones). Set BASELINE=<a table this
# script printed> to add a ratio column (new / baseline), e.g.
#   BASELINE=scripts/instructions-baseline-af742d5.txt scripts/instructions.sh
# The harness (scripts/harness, the crate's public API only) is built once per checkout, in
# release without the `parallel` feature (counts are the total work on one thread), in
# $SL_HARNESS_DIR (default /tmp/scaling-laws-harness); the checkout's own target/ and
# Cargo.toml are not touched. Only the calls inside `sl_counted` are counted
# (`--toggle-collect`): data generation, file reading and one warm-up run are not.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checkout=$(cd "${1:-$here/..}" && pwd)
shift || true
jobs=("$@")
work=${SL_HARNESS_DIR:-/tmp/scaling-laws-harness}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

# shellcheck source=scripts/harness/build.sh
source "$here/harness/build.sh"
bin=$(build_harness "$here/harness" "$checkout" "$work" "")
if [ ${#jobs[@]} -eq 0 ]; then mapfile -t jobs < <("$bin" list); fi

rev=$(git -C "$checkout" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$checkout" status --porcelain --untracked-files=no 2>/dev/null | head -c1)
[ -n "$dirty" ] && rev="$rev+changes"
vg=$(valgrind --version)
echo "# instructions (callgrind Ir) per job, $checkout at $rev, harness without 'parallel', $vg"
printf '%-26s %16s %6s %16s %-9s %s\n' job Ir/job reps Ir/unit unit "${BASELINE:+ratio/baseline}"
for job in "${jobs[@]}"; do
  out="$bin.callgrind.$job.out"
  log="$bin.callgrind.$job.log"
  start=$(date +%s)
  line=$(nice valgrind --tool=callgrind --toggle-collect=sl_counted \
    --callgrind-out-file="$out" --log-file="$log" "$bin" count "$job" "$checkout")
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$out")
  reps=$(sed -E 's/.*reps=([0-9]+).*/\1/' <<<"$line")
  units=$(sed -E 's/.*units=([0-9.e+]+).*/\1/' <<<"$line")
  per=$(sed -E 's/.*per=([a-z]+).*/\1/' <<<"$line")
  perjob=$(awk -v a="$ir" -v r="$reps" 'BEGIN {printf "%.0f", a / r}')
  perunit=$(awk -v a="$perjob" -v u="$units" 'BEGIN {printf "%.0f", a / u}')
  ratio=""
  if [ -n "${BASELINE:-}" ]; then
    old=$(awk -v j="$job" '$1 == j {print $4; exit}' "$BASELINE")
    [ -n "$old" ] && ratio=$(awk -v a="$perunit" -v b="$old" 'BEGIN {printf "%.3f", a / b}')
  fi
  printf '%-26s %16s %6s %16s %-9s %s\n' "$job" "$perjob" "$reps" "$perunit" "$per" "$ratio"
  echo "  ($job: $(( $(date +%s) - start )) s under valgrind)" >&2
done
