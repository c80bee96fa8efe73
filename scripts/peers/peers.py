"""Peer timings for the README's Speed table, on the data the crate's benches use.

python peers.py DATA_DIR CRATE_TIMES [--quick]

DATA_DIR holds what `harness dump` wrote (power_law_30.csv, chinchilla_240.csv,
bootstrap_240.csv); CRATE_TIMES has one `job median_s=...` line per job from `harness time`
(`bootstrap_1thread`: the bootstrap job with RAYON_NUM_THREADS=1). Prints a Markdown table:
row, crate median, peer and its median (seconds are medians of several runs in this process;
a peer timed on a slice is scaled, and its row says what was timed and how it was scaled: a
package call with a fixed cost is timed at two sizes, and only the per-start or per-draw
difference is scaled). `simple-scaling-laws` needs Python >= 3.12; on an older Python its row
says so (run.sh passes why in SL_PEERS_PYTHON_NOTE).
"""

import csv
import functools
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time

# One BLAS thread in each process, set before numpy loads OpenBLAS. The scipy peers run in 2
# worker processes (forked); with OpenBLAS's default threads in each, the same L-BFGS-B starts
# took 20-140x longer in the workers than in one process (2026-12-01: 100 grid starts 19 s
# instead of 0.22 s; 40 bootstrap refits 3.1 s instead of 0.022 s). The one-process peers
# (curve_fit, `chinchilla`, `simple-scaling-laws`) time the same either way.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402
from scipy.optimize import curve_fit, minimize  # noqa: E402

DELTA = 1e-3  # Huber delta on log residuals (Hoffmann et al. 2022; Besiroglu et al. 2024)


def median_time(fn, runs, min_seconds=0.02):
    """Median seconds per call over `runs` samples, each batched to last about min_seconds."""
    t = time.perf_counter()
    fn()
    once = time.perf_counter() - t
    batch = max(1, int(np.ceil(min_seconds / max(once, 1e-9))))
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t) / batch)
    return statistics.median(samples)


def read_runs(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    n = np.array([float(r["params"]) for r in rows])
    d = np.array([float(r["tokens"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    return n, d, loss


# ---- power law: scipy curve_fit ----------------------------------------------------------


def power_law(x, e, a, alpha):
    return e + a * x ** (-alpha)


def fit_power_law_scipy(x, y):
    # A good start: E just under the smallest loss, then a straight line in log-log.
    e0 = 0.9 * y.min()
    slope, icept = np.polyfit(np.log(x), np.log(y - e0), 1)
    p, _ = curve_fit(power_law, x, y, p0=(e0, np.exp(icept), -slope), maxfev=10_000)
    return p


# ---- Chinchilla: Huber on log residuals, L-BFGS-B (Besiroglu et al. 2024) ------------------


def hoffmann_param_grid():
    """Hoffmann et al. (2022, App. D.2)'s grid, one axis per parameter of L = exp(e) +
    exp(a) / N^alpha + exp(b) / D^beta (the form the `chinchilla` package takes)."""
    return {
        "e": [-1.0, -0.5, 0.0, 0.5, 1.0],
        "a": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
        "b": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
        "alpha": [0.0, 0.5, 1.0, 1.5, 2.0],
        "beta": [0.0, 0.5, 1.0, 1.5, 2.0],
    }


def hoffmann_grid():
    """The 4,500 points of `hoffmann_param_grid` as [e, a, b, alpha, beta], alpha outermost."""
    g = hoffmann_param_grid()
    return [
        (e, a, b, alpha, beta)
        for alpha in g["alpha"]
        for beta in g["beta"]
        for e in g["e"]
        for a in g["a"]
        for b in g["b"]
    ]


def huber_objective(p, log_n, log_d, log_l):
    """Summed Huber(delta) of log L - LSE(a - alpha log N, b - beta log D, e), and its gradient."""
    e, a, b, alpha, beta = p
    t = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    m = t.max(axis=0)
    w = np.exp(t - m)
    s = w.sum(axis=0)
    r = log_l - (m + np.log(s))
    absr = np.abs(r)
    quad = absr <= DELTA
    f = np.where(quad, 0.5 * r * r, DELTA * (absr - 0.5 * DELTA)).sum()
    dr = np.where(quad, r, DELTA * np.sign(r))  # d huber / d r
    soft = w / s  # d LSE / d t
    g_t = -dr * soft
    grad = np.array(
        [
            g_t[2].sum(),
            g_t[0].sum(),
            g_t[1].sum(),
            -(g_t[0] * log_n).sum(),
            -(g_t[1] * log_d).sum(),
        ]
    )
    return f, grad


_DATA = None


def _init(data):
    global _DATA
    _DATA = data


def _one_start(x0):
    res = minimize(huber_objective, np.array(x0), args=_DATA, jac=True, method="L-BFGS-B")
    return res.fun, tuple(res.x)


def grid_fit(pool, starts):
    return min(pool.map(_one_start, starts, chunksize=max(1, len(starts) // 16)))


def _resample(args):
    seed, x0 = args
    log_n, log_d, log_l = _DATA
    idx = np.random.default_rng(seed).integers(0, len(log_n), len(log_n))
    res = minimize(
        huber_objective,
        np.array(x0),
        args=(log_n[idx], log_d[idx], log_l[idx]),
        jac=True,
        method="L-BFGS-B",
    )
    return res.fun


# ---- the `chinchilla` package (PyPI 0.2.0): its BFGS over a parameter grid ---------------


def chinchilla_package_fit(n, d, loss, grid, step=1):
    """One whole `Chinchilla(...).fit(parallel=False)` call on the runs, as a user makes it.

    Everything is inside: a temporary project directory, the CSV of runs it reads, the
    constructor, `fit` (its setup, its BFGS starts, its plot). `step` > 1 runs every `step`th
    start of `grid`'s product only, with the package's own code and its autoscaling from the
    whole grid (the package divides each start by the grid's range on each axis, so a smaller
    product grid would change every start's problem): its `itertools.product` is swapped for
    one that slices. Returns (E, A, B, alpha, beta).
    """
    import itertools
    import logging
    import types

    import chinchilla
    import chinchilla.core
    from chinchilla._metrics import log_huber

    chinchilla.core.itertools = types.SimpleNamespace(product=lambda *axes: list(itertools.product(*axes))[::step])
    try:
        with tempfile.TemporaryDirectory() as project:
            with open(os.path.join(project, "df.csv"), "w") as f:
                f.write("C,N,D,loss\n")
                for ni, di, li in zip(n, d, loss):
                    f.write(f"{6 * float(ni) * float(di)!r},{float(ni)!r},{float(di)!r},{float(li)!r}\n")
            cc = chinchilla.Chinchilla(
                project,
                param_grid=grid,
                loss_fn=functools.partial(log_huber, delta=DELTA),
                log_level=logging.ERROR,
            )
            cc.fit(parallel=False)
            return cc.E, cc.A, cc.B, cc.alpha, cc.beta
    finally:
        chinchilla.core.itertools = itertools


# ---- `simple-scaling-laws` (PyPI 0.2.0, Python >= 3.12): its wild cluster bootstrap --------


def simple_scaling_laws_fit(n, d, loss, draws):
    """`simple_scaling_laws.fit(frame, law="separable-power", n_draws=draws, seed=0)` on the runs.

    One call: the point fit (two weighted least-squares passes with grid seeds), then `draws`
    bootstrap draws, each a least-squares refit (scipy `least_squares`, TRF) of synthetic losses
    from a wild cluster bootstrap over (N, D) configurations, warm-started at the point fit and
    re-polished from its grid when a grid point scores better; then its diagnostics.
    """
    import polars as pl
    from simple_scaling_laws import fit

    frame = pl.DataFrame(
        {
            "training_run_id": [f"run{i:03d}" for i in range(len(n))],
            "model_size__n_params": [float(v) for v in n],
            "dataset_size__n_tokens": [float(v) for v in d],
            "test_loss__cross_entropy": [float(v) for v in loss],
        }
    )
    return fit(frame, law="separable-power", n_draws=draws, seed=0)


def fixed_and_per_unit(fn, k1, k2, runs):
    """(fixed s, s per unit, median s at k1, median s at k2): medians of `runs` calls fn(k1), fn(k2).

    The per-unit cost is the difference of the medians over k2 - k1 units, so setup a call pays
    once (imports are paid by a warm-up call first) is not scaled with the units.
    """
    fn(k1)
    t1 = statistics.median(_timed(fn, k1) for _ in range(runs))
    t2 = statistics.median(_timed(fn, k2) for _ in range(runs))
    per = (t2 - t1) / (k2 - k1)
    return t1 - k1 * per, per, t1, t2


def _timed(fn, k):
    t = time.perf_counter()
    fn(k)
    return time.perf_counter() - t


def main():
    data_dir, crate_times = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    crate = {}
    with open(crate_times) as f:
        for line in f:
            parts = line.split()
            crate[parts[0]] = float(parts[1].split("=")[1])

    rows = []

    def fmt(s):
        if s is None:
            return "-"
        if s >= 1:
            return f"{s:.2f} s"
        if s >= 1e-3:
            return f"{s * 1e3:.2f} ms"
        return f"{s * 1e6:.0f} us"

    # power law
    with open(os.path.join(data_dir, "power_law_30.csv")) as f:
        rows_ = list(csv.DictReader(f))
    x = np.array([float(r["x"]) for r in rows_])
    y = np.array([float(r["y"]) for r in rows_])
    p = fit_power_law_scipy(x, y)
    t = median_time(lambda: fit_power_law_scipy(x, y), 11)
    rows.append(("power_law", f"scipy {__import__('scipy').__version__} `curve_fit` (Levenberg-Marquardt), start from a log-log line", t, f"E={p[0]:.4f} A={p[1]:.1f} alpha={p[2]:.4f}"))

    n, d, loss = read_runs(os.path.join(data_dir, "chinchilla_240.csv"))
    data = (np.log(n), np.log(d), np.log(loss))
    grid = hoffmann_grid()
    step = 150 if quick else 1  # all 4,500 starts, unless --quick
    sub = grid[::step]
    with multiprocessing.Pool(2, initializer=_init, initargs=(data,)) as pool:
        best = grid_fit(pool, sub)
        t = median_time(lambda: grid_fit(pool, sub), 3, 0) * len(grid) / len(sub)
    e, a, b, alpha, beta = best[1]
    rows.append(("hoffmann_grid", f"scipy L-BFGS-B from Hoffmann's grid (Besiroglu et al. 2024), 2 processes (1 BLAS thread each); {'all 4,500 starts timed' if step == 1 else f'every {step}th start timed, x{len(grid) / len(sub):.0f}'}", t, f"objective {best[0]:.6g}, alpha={alpha:.4f} beta={beta:.4f}"))

    # The `chinchilla` package: its whole fit on Hoffmann's 4,500 starts, as a user runs it. Timed
    # on every 450th and every 45th start (10 and 100 starts, the 10 among the 100) with the
    # whole grid's autoscaling; the difference of the two gives the cost of a start, the rest is
    # the fixed cost of one call (temp dir, CSV, constructor, setup, plot), paid once.
    k1, k2 = (5, 20) if quick else (10, 100)
    cc_runs = 1 if quick else 3
    cc_fixed = cc_per = cc_total = None
    try:
        import chinchilla  # noqa: F401

        answer = {}

        def cc_fit(k):
            answer[k] = chinchilla_package_fit(n, d, loss, hoffmann_param_grid(), step=4500 // k)

        cc_fixed, cc_per, t1, t2 = fixed_and_per_unit(cc_fit, k1, k2, cc_runs)
        cc_total = cc_fixed + 4500 * cc_per
        fitted = answer[k2]
        cc_what = (
            f"`chinchilla` 0.2.0 (PyPI) `Chinchilla.fit(parallel=False)` on Hoffmann's 4,500 starts "
            f"(BFGS in long double, log-Huber), 1 process. Timed: the whole call (temp dir, CSV, "
            f"setup, fit, plot) on every {4500 // k1}th and every {4500 // k2}th start of the grid "
            f"(the grid's own autoscaling), medians of {cc_runs}: {k1} starts {fmt(t1)}, "
            f"{k2} starts {fmt(t2)}, so {fmt(cc_per)} a start and {fmt(cc_fixed)} fixed; "
            f"shown: fixed + 4,500 x a start"
        )
        cc_answer = f"best of the {k2} starts: alpha={float(fitted[3]):.4f} beta={float(fitted[4]):.4f}"
        rows.append(("chinchilla_default", cc_what + " (vs the crate's default fit)", cc_total, cc_answer))
    except Exception as err:  # report, do not hide
        rows.append(("chinchilla_default", f"`chinchilla` 0.2.0 failed: {type(err).__name__}: {err}", None, ""))

    # the same figure against the crate's own 4,500-start grid
    if cc_total is not None and crate.get("hoffmann_grid"):
        rows.append(
            (
                "hoffmann_grid",
                f"`chinchilla` 0.2.0's 4,500 starts, the figure of its `chinchilla_default` row "
                f"(1 process), against the crate's `hoffmann_grid` job (the same 4,500 starts, "
                f"rayon on {os.cpu_count()} threads): grid to grid. The package's own `parallel=True` "
                f"({os.cpu_count()} processes) could at best divide its time by {os.cpu_count()}",
                cc_total,
                "",
            )
        )

    # bootstrap: scipy refits from the full-data optimum
    bn, bd, bl = read_runs(os.path.join(data_dir, "bootstrap_240.csv"))
    bdata = (np.log(bn), np.log(bd), np.log(bl))
    k = 10 if quick else 4000  # all 4,000 resamples, unless --quick
    with multiprocessing.Pool(2, initializer=_init, initargs=(bdata,)) as pool:
        full = grid_fit(pool, grid[::45])[1]
        jobs = [(s, full) for s in range(k)]
        t = median_time(lambda: pool.map(_resample, jobs, chunksize=8), 3, 0) * 4000 / k
    rows.append(("bootstrap", f"scipy L-BFGS-B refit per resample from the full-data optimum, 2 processes (1 BLAS thread each; {'all 4,000 resamples timed' if k == 4000 else f'{k} resamples timed, x{4000 / k:.0f}'})", t, ""))

    # bootstrap: `simple-scaling-laws` (issue 19's bootstrap peer), on the same 240 runs
    ssl_name = "`simple-scaling-laws` 0.2.0 (PyPI)"
    crate_boot = crate.get("bootstrap")
    crate_boot1 = crate.get("bootstrap_1thread")
    if sys.version_info < (3, 12):
        why = os.environ.get("SL_PEERS_PYTHON_NOTE", "")
        rows.append(
            (
                "bootstrap",
                f"{ssl_name} not run: it requires Python >= 3.12 and this venv's Python is "
                f"{platform.python_version()}{'; ' + why if why else ''}",
                None,
                "",
            )
        )
    else:
        try:
            d1, d2 = (5, 50) if quick else (10, 1000)
            ssl_runs = 1 if quick else 3
            models = {}

            def ssl_fit(k):
                models[k] = simple_scaling_laws_fit(bn, bd, bl, k)

            ssl_fixed, ssl_per, t1, t2 = fixed_and_per_unit(ssl_fit, d1, d2, ssl_runs)
            model = models[d2]
            unc = model.diagnostics["uncertainty"]["test_loss__cross_entropy"]
            p = model.params("test_loss__cross_entropy")
            per_crate = f"{fmt(crate_boot / 4000)} a resample on {os.cpu_count()} threads" if crate_boot else ""
            if crate_boot1:
                per_crate += f", {fmt(crate_boot1 / 4000)} on 1 thread"
            ratio = ""
            if crate_boot and crate_boot1:
                ratio = f" (a draw costs {ssl_per / (crate_boot / 4000):.0f}x a crate resample, {ssl_per / (crate_boot1 / 4000):.0f}x on 1 thread each)"
            what = (
                f"{ssl_name} `fit(frame, law=\"separable-power\", n_draws=k, seed=0)`, 1 process (the package "
                f"does not parallelize). A draw: a wild cluster bootstrap data set over the 240 (N, D) "
                f"configurations, refitted by least squares (scipy TRF) from the point fit; the crate "
                f"resamples runs and refits the Huber loss. Timed, medians of {ssl_runs}: "
                f"{d1} draws {fmt(t1)}, {d2} draws {fmt(t2)} ({unc['method']}, {unc['n_failed_draws']} failed), "
                f"so {fmt(ssl_per)} a draw and {fmt(ssl_fixed)} fixed (point fit, diagnostics) vs the crate's "
                f"{per_crate}{ratio}; shown: fixed + 4,000 x a draw"
            )
            answer_ = f"E={p['E']:.4f} alpha={p['alpha']:.4f} beta={p['beta']:.4f} (least squares)"
            rows.append(("bootstrap", what, ssl_fixed + 4000 * ssl_per, answer_))
        except Exception as err:  # report, do not hide
            rows.append(("bootstrap", f"{ssl_name} failed: {type(err).__name__}: {err}", None, ""))

    rows.append(("approach1", "none packaged on PyPI", None, ""))
    rows.append(("multipower_predict", "the multi-power authors' code is not on PyPI", None, ""))
    rows.append(("multipower_fit", "the multi-power authors' code is not on PyPI", None, ""))

    print("| job | crate median | peer | peer median | crate speed-up | peer's answer |")
    print("| --- | --- | --- | --- | --- | --- |")
    for job, peer, t, note in rows:
        c = crate.get(job)
        ratio = f"{t / c:.0f}x" if (t and c) else "-"
        print(f"| {job} | {fmt(c)} | {peer} | {fmt(t)} | {ratio} | {note} |")
    refs = {
        "chinchilla_one_start": "(reference: one start from Hoffmann's law)",
        "bootstrap_1thread": "(reference: the crate's `bootstrap` job with RAYON_NUM_THREADS=1)",
    }
    for job, what in refs.items():
        if job in crate:
            print(f"| {job} | {fmt(crate[job])} | {what} | - | - | |")


if __name__ == "__main__":
    main()
