"""Peer timings for the README's Speed table, on the data the crate's benches use.

python peers.py DATA_DIR CRATE_TIMES [--quick]

DATA_DIR holds what `harness dump` wrote (power_law_30.csv, chinchilla_240.csv,
bootstrap_240.csv); CRATE_TIMES has one `job median_s=...` line per job from `harness time`.
Prints a Markdown table: row, crate median, peer and its median (seconds are medians of
several runs in this process; runs on a sub-grid or a subset are scaled and say so).
"""

import csv
import functools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import curve_fit, minimize

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


def hoffmann_grid():
    """Hoffmann et al. (2022, App. D.2): [e, a, b, alpha, beta], 4,500 points."""
    exps = [0.0, 0.5, 1.0, 1.5, 2.0]
    es = [-1.0, -0.5, 0.0, 0.5, 1.0]
    abs_ = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    return [
        (e, a, b, alpha, beta)
        for alpha in exps
        for beta in exps
        for e in es
        for a in abs_
        for b in abs_
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


def chinchilla_package_fit(n, d, loss, grid):
    import logging

    import chinchilla
    from chinchilla._metrics import log_huber

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
    step = 150 if quick else 45
    sub = grid[::step]
    with multiprocessing.Pool(2, initializer=_init, initargs=(data,)) as pool:
        best = grid_fit(pool, sub)
        t = median_time(lambda: grid_fit(pool, sub), 3, 0) * len(grid) / len(sub)
    e, a, b, alpha, beta = best[1]
    rows.append(("hoffmann_grid", f"scipy L-BFGS-B from Hoffmann's grid (Besiroglu et al. 2024), 2 processes; every {step}th start timed, x{len(grid) / len(sub):.0f}", t, f"objective {best[0]:.6g}, alpha={alpha:.4f} beta={beta:.4f}"))

    # the chinchilla package on a product sub-grid of Hoffmann's grid, scaled to 4,500 starts
    sub_grid = {
        "e": [0.0] if quick else [-1.0, 0.0, 1.0],
        "a": [5.0],
        "b": [5.0],
        "alpha": [0.5],
        "beta": [0.5],
    }
    size = int(np.prod([len(v) for v in sub_grid.values()]))
    try:
        import chinchilla  # noqa: F401

        times = []
        for _ in range(1 if quick else 3):
            t0 = time.perf_counter()
            fitted = chinchilla_package_fit(n, d, loss, sub_grid)
            times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        rows.append(("chinchilla_default", f"`chinchilla` 0.2.0 (PyPI) `Chinchilla.fit`, log-Huber, 1 process; {size}-start sub-grid of Hoffmann's timed, x{4500 / size:.1f}", t * 4500 / size, f"alpha={float(fitted[3]):.4f} beta={float(fitted[4]):.4f}"))
    except Exception as err:  # report, do not hide
        rows.append(("chinchilla_default", f"`chinchilla` 0.2.0 failed: {type(err).__name__}: {err}", None, ""))

    # bootstrap: scipy refits from the full-data optimum
    bn, bd, bl = read_runs(os.path.join(data_dir, "bootstrap_240.csv"))
    bdata = (np.log(bn), np.log(bd), np.log(bl))
    k = 10 if quick else 40
    with multiprocessing.Pool(2, initializer=_init, initargs=(bdata,)) as pool:
        full = grid_fit(pool, grid[::45])[1]
        jobs = [(s, full) for s in range(k)]
        t = median_time(lambda: pool.map(_resample, jobs, chunksize=8), 3, 0) * 4000 / k
    rows.append(("bootstrap", f"scipy L-BFGS-B refit per resample from the full-data optimum, 2 processes ({k} resamples timed, x{4000 / k:.0f}); `simple-scaling-laws` is not on PyPI", t, ""))

    rows.append(("approach1", "none packaged on PyPI", None, ""))
    rows.append(("multipower_predict", "the multi-power authors' code is not on PyPI", None, ""))
    rows.append(("multipower_fit", "the multi-power authors' code is not on PyPI", None, ""))

    print("| job | crate median | peer | peer median | crate speed-up | peer's answer |")
    print("| --- | --- | --- | --- | --- | --- |")
    for job, peer, t, note in rows:
        c = crate.get(job)
        ratio = f"{t / c:.0f}x" if (t and c) else "-"
        print(f"| {job} | {fmt(c)} | {peer} | {fmt(t)} | {ratio} | {note} |")
    for job in ("chinchilla_one_start",):
        if job in crate:
            print(f"| {job} | {fmt(crate[job])} | (reference: one start from Hoffmann's law) | - | - | |")


if __name__ == "__main__":
    main()
