#!/usr/bin/env bash
# The median of each criterion benchmark's last run, read from criterion's own files
# (TARGET/criterion/**/new/estimates.json): criterion prints the slope (or mean) as its middle
# figure, not the median the Speed table quotes.
#
#   scripts/criterion-medians.sh [FILTER] [TARGET_DIR]
#
# FILTER keeps the benchmarks whose id contains it; TARGET_DIR defaults to this checkout's
# target/. Prints a Markdown table: id, median with its 95% interval, slope (or mean), samples,
# and when the run ended (the file's time, UTC).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
filter=${1:-}
target=${2:-$here/../target}
python3 - "$target/criterion" "$filter" <<'PY'
import json, os, sys, datetime
root, flt = sys.argv[1], sys.argv[2]

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"

rows = []
for d, _, files in os.walk(root):
    if os.path.basename(d) != "new" or "estimates.json" not in files:
        continue
    with open(os.path.join(d, "benchmark.json")) as f:
        name = json.load(f)["full_id"]
    if flt not in name:
        continue
    with open(os.path.join(d, "estimates.json")) as f:
        est = json.load(f)
    with open(os.path.join(d, "sample.json")) as f:
        samples = len(json.load(f)["iters"])
    med = est["median"]
    ci = med["confidence_interval"]
    other = est.get("slope") or est["mean"]
    kind = "slope" if est.get("slope") else "mean"
    when = datetime.datetime.fromtimestamp(
        os.path.getmtime(os.path.join(d, "estimates.json")), datetime.timezone.utc)
    rows.append((name, fmt(med["point_estimate"]),
                 f"[{fmt(ci['lower_bound'])}, {fmt(ci['upper_bound'])}]",
                 f"{fmt(other['point_estimate'])} ({kind})", samples,
                 when.strftime("%Y-%m-%d %H:%M:%S")))
print("| benchmark | median | 95% interval of the median | criterion's printed estimate | samples | run ended (UTC) |")
print("| --- | --- | --- | --- | --- | --- |")
for r in sorted(rows):
    print("| " + " | ".join(str(x) for x in r) + " |")
PY
