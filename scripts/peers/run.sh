#!/usr/bin/env bash
# The Speed table's peer column: the crate's jobs (harness `time`, release, `parallel` feature)
# and the peers from PyPI, one after the other in one run, on the same data.
#
#   scripts/peers/run.sh [CHECKOUT] [--quick]
#
# Installs numpy, scipy and `chinchilla` (PyPI) into its own venv ($SL_PEERS_VENV, default
# /tmp/scaling-laws-peers/venv); builds the harness against CHECKOUT (default: this checkout)
# in $SL_HARNESS_DIR (default /tmp/scaling-laws-harness). Prints a Markdown table and writes it
# to $SL_HARNESS_DIR/peers-table.md. About 5 minutes on a loaded 2-core machine (--quick: 2).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checkout="$here/../.."
quick=""
for a in "$@"; do
  case "$a" in
    --quick) quick=--quick ;;
    *) checkout=$a ;;
  esac
done
checkout=$(cd "$checkout" && pwd)
work=${SL_HARNESS_DIR:-/tmp/scaling-laws-harness}
venv=${SL_PEERS_VENV:-/tmp/scaling-laws-peers/venv}
mkdir -p "$work"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r "$here/requirements.txt" >&2

# shellcheck source=scripts/harness/build.sh
source "$here/../harness/build.sh"
bin=$(build_harness "$here/../harness" "$checkout" "$work" parallel)
data="$work/peer-data"
"$bin" dump "$checkout" "$data"

times="$work/crate-times.txt"
: >"$times"
for job in $("$bin" list); do
  case "$job" in
    hoffmann_grid | bootstrap | multipower_fit) samples=3 ;;
    *) samples=11 ;;
  esac
  "$bin" time "$job" "$checkout" "$samples" | tee -a "$times" >&2
done

{
  echo "<!-- $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$checkout" rev-parse --short HEAD 2>/dev/null), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) as the peers start, scripts/peers/run.sh $quick -->"
  "$venv/bin/python" "$here/peers.py" "$data" "$times" $quick
} | tee "$work/peers-table.md"
