#!/usr/bin/env bash
# The Speed table's peer column: the crate's jobs (harness `time`, release, `parallel` feature)
# and the peers from PyPI, one after the other in one run, on the same data.
#
#   scripts/peers/run.sh [CHECKOUT] [--quick]
#
# Installs numpy, scipy, `chinchilla` and `simple-scaling-laws` (PyPI; the latter needs Python
# >= 3.12) into its own venv ($SL_PEERS_VENV, default /tmp/scaling-laws-peers/venv-<python
# version>), made with $SL_PEERS_PYTHON, else the first of python3.13, python3.12 and pyenv's
# 3.12+ that runs, else python3 (then the simple-scaling-laws row says why it did not run).
# Builds the harness against CHECKOUT (default: this checkout) in $SL_HARNESS_DIR (default
# /tmp/scaling-laws-harness). Prints a Markdown table and writes it to
# $SL_HARNESS_DIR/peers-table.md. After the build, about 1.5 minutes at a load of 4 on 2 cores
# (2026-12-01; --quick: about 1 minute).
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
mkdir -p "$work"

# The first Python >= 3.12 that runs (a pyenv shim can exist for a version that is not
# selected, so each candidate is run, not just looked up).
is_312() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }
python=""
for py in ${SL_PEERS_PYTHON:-} python3.13 python3.12 \
  "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
  if is_312 "$py"; then
    python=$py
    break
  fi
done
if [ -z "$python" ]; then
  python=python3
  export SL_PEERS_PYTHON_NOTE="run.sh found no Python >= 3.12 (tried \$SL_PEERS_PYTHON, python3.13, python3.12, pyenv's versions/3.12+)"
fi
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=${SL_PEERS_VENV:-/tmp/scaling-laws-peers/venv-$pyver}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q -r "$here/requirements.txt" >&2

# shellcheck source=scripts/harness/build.sh
source "$here/../harness/build.sh"
bin=$(build_harness "$here/../harness" "$checkout" "$work" parallel)
data="$work/peer-data"
"$bin" dump "$checkout" "$data"

started=$(date -u "+%Y-%m-%d %H:%M UTC")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
times="$work/crate-times.txt"
: >"$times"
for job in $("$bin" list); do
  case "$job" in
    hoffmann_grid | bootstrap | multipower_fit) samples=3 ;;
    *) samples=11 ;;
  esac
  "$bin" time "$job" "$checkout" "$samples" | tee -a "$times" >&2
done
# The bootstrap on one thread too, for the per-resample comparison with single-process peers.
RAYON_NUM_THREADS=1 "$bin" time bootstrap "$checkout" 3 | sed 's/^bootstrap /bootstrap_1thread /' |
  tee -a "$times" >&2

load_peers=$(cut -d' ' -f1-3 /proc/loadavg)
table=$("$venv/bin/python" "$here/peers.py" "$data" "$times" $quick)
{
  echo "<!-- $started to $(date -u "+%H:%M UTC"), $(git -C "$checkout" rev-parse --short HEAD 2>/dev/null), $(nproc) cores, $("$venv/bin/python" --version), load (1/5/15 min) $load_start at the start, $load_peers as the peers start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; scripts/peers/run.sh $quick -->"
  echo "$table"
} | tee "$work/peers-table.md"
