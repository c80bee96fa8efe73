"""Side by side: the Chinchilla fit on the 240 real runs from Python, four ways.

1. ``scaling_laws.fit_chinchilla`` (this package), default starts and Hoffmann's 4,500-start grid;
2. scipy's L-BFGS-B from every point of Hoffmann et al.'s grid (alpha, beta in {0, .5, 1, 1.5, 2};
   e in {-1, -.5, 0, .5, 1}; a, b in {0, 5, ..., 25}), on the summed Huber (delta 1e-3) of log
   residuals in log-sum-exp form, with the analytic gradient and scipy's default tolerances;
3. the PyPI package ``chinchilla`` (BFGS from every point of a grid, in long double), given
   Hoffmann's grid and the log-Huber loss it ships (its objective is the mean, so the same optimum);
4. the PyPI package ``simple-scaling-laws`` (its ``separable-power`` law, least squares).

Every result is scored by the same number: the summed Huber objective at the fitted law
(``scaling_laws.chinchilla_objective``). Run (about two minutes without the ``chinchilla``
package; that one is capped by ``--chinchilla-timeout``):

    python python/bench/compare.py [--chinchilla-timeout 900]

Not run in CI. The peer packages are optional: a missing one is reported, not an error.
"""

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import scaling_laws as sl

DELTA = 1e-3


def runs():
    r = sl.datasets.chinchilla_besiroglu_240()
    return r["params"], r["tokens"], r["loss"]


def objective(law_params):
    """The summed Huber objective at (E, A, B, alpha, beta), by this package's direct formula."""
    e, a, b, alpha, beta = law_params
    law = sl.ChinchillaLaw(e, a, b, alpha, beta)
    return sl.chinchilla_objective(law, sl.datasets.chinchilla_besiroglu_240())


def timed(f, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def ours():
    n, d, l = runs()
    rows = []
    fit, t = timed(lambda: sl.fit_chinchilla(params=n, tokens=d, loss=l), 20)
    rows.append(("scaling_laws.fit_chinchilla (default starts)", fit.objective, t, "median of 20"))
    grid, t = timed(lambda: sl.fit_chinchilla(params=n, tokens=d, loss=l, starts="hoffmann"), 3)
    rows.append(("scaling_laws.fit_chinchilla(starts='hoffmann'), 4,500 starts", grid.objective, t, "median of 3"))
    return rows, fit


def scipy_grid():
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    n, d, l = runs()
    log_n, log_d, log_l = np.log(n), np.log(d), np.log(l)

    def f_and_grad(x):
        e, a, b, alpha, beta = x
        t = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
        lse = logsumexp(t, axis=0)
        w = np.exp(t - lse)  # softmax weights: d lse / d t
        r = log_l - lse
        quad = np.abs(r) <= DELTA
        value = np.sum(np.where(quad, 0.5 * r * r, DELTA * (np.abs(r) - 0.5 * DELTA)))
        dr = np.where(quad, r, DELTA * np.sign(r))  # d huber / d r; d r / d lse = -1
        g = -dr
        grad = np.array(
            [
                np.sum(g * w[2]),
                np.sum(g * w[0]),
                np.sum(g * w[1]),
                np.sum(g * w[0] * -log_n),
                np.sum(g * w[1] * -log_d),
            ]
        )
        return value, grad

    grid = list(
        itertools.product(
            [-1, -0.5, 0, 0.5, 1],
            [0, 5, 10, 15, 20, 25],
            [0, 5, 10, 15, 20, 25],
            [0, 0.5, 1, 1.5, 2],
            [0, 0.5, 1, 1.5, 2],
        )
    )
    t = time.perf_counter()
    best = None
    for x0 in grid:
        res = minimize(f_and_grad, np.array(x0, float), jac=True, method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    elapsed = time.perf_counter() - t
    e, a, b, alpha, beta = best.x
    params = (np.exp(e), np.exp(a), np.exp(b), alpha, beta)
    return ("scipy L-BFGS-B, Hoffmann's 4,500 starts (analytic gradient)", objective(params), elapsed, "1 run"), params


def chinchilla_package_child(out_path):
    """Runs in a subprocess: the `chinchilla` package on the 240 runs with Hoffmann's grid."""
    import logging

    os.environ.setdefault("MPLBACKEND", "Agg")
    from chinchilla import Chinchilla
    from chinchilla._metrics import log_huber

    n, d, l = runs()
    with tempfile.TemporaryDirectory() as tmp:
        cc = Chinchilla(
            project_dir=os.path.join(tmp, "proj"),
            param_grid=dict(
                e=(-1, -0.5, 0, 0.5, 1),
                a=(0, 5, 10, 15, 20, 25),
                b=(0, 5, 10, 15, 20, 25),
                alpha=(0, 0.5, 1, 1.5, 2),
                beta=(0, 0.5, 1, 1.5, 2),
            ),
            loss_fn=lambda y, yhat: log_huber(y, yhat, delta=DELTA),
            log_level=logging.ERROR,
        )
        for ni, di, li in zip(n, d, l):
            cc.database.append(N=float(ni), D=float(di), loss=float(li))
        t = time.perf_counter()
        cc.fit(parallel=True)
        elapsed = time.perf_counter() - t
        params = [float(cc.E), float(cc.A), float(cc.B), float(cc.alpha), float(cc.beta)]
    with open(out_path, "w") as f:
        json.dump({"params": params, "seconds": elapsed}, f)


def chinchilla_package(timeout):
    name = "PyPI `chinchilla` 0.2.0, BFGS from Hoffmann's 4,500 starts"
    try:
        import chinchilla  # noqa: F401
    except ImportError as e:
        return (name, None, None, f"not installed ({e})"), None
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        t = time.perf_counter()
        try:
            subprocess.run(
                [sys.executable, __file__, "--chinchilla-child", out],
                timeout=timeout,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return (name, None, time.perf_counter() - t, f"did not finish in {timeout:.0f} s (stopped)"), None
        except subprocess.CalledProcessError as e:
            return (name, None, None, f"failed (exit {e.returncode})"), None
        with open(out) as f:
            r = json.load(f)
    return (name, objective(r["params"]), r["seconds"], "1 run"), r["params"]


def simple_scaling_laws():
    name = "PyPI `simple-scaling-laws` 0.2.0, separable-power (least squares)"
    try:
        import polars as pl
        from simple_scaling_laws import fit
    except ImportError as e:
        return (name, None, None, f"not installed ({e})"), None
    n, d, l = runs()
    frame = pl.DataFrame(
        {
            "training_run_id": [f"run{i:03d}" for i in range(len(n))],
            "model_size__n_params": n,
            "dataset_size__n_tokens": d,
            "test_loss__cross_entropy": l,
        }
    )
    t = time.perf_counter()
    try:
        model = fit(frame, law="separable-power", n_draws=10, seed=0)
    except Exception as e:  # report any failure honestly
        return (name, None, time.perf_counter() - t, f"failed: {type(e).__name__}: {e}"), None
    elapsed = time.perf_counter() - t
    p = model.params("test_loss__cross_entropy")
    params = [p["E"], p["A"], p["B"], p["alpha"], p["beta"]]
    return (name, objective(params), elapsed, "1 run, 10 bootstrap draws (its minimum)"), params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chinchilla-timeout", type=float, default=900.0)
    ap.add_argument("--skip-chinchilla-package", action="store_true")
    ap.add_argument("--chinchilla-child")
    args = ap.parse_args()
    if args.chinchilla_child:
        chinchilla_package_child(args.chinchilla_child)
        return

    rows, fit = ours()
    laws = {"scaling_laws": [fit.law.e, fit.law.a, fit.law.b, fit.law.alpha, fit.law.beta]}
    row, p = scipy_grid()
    rows.append(row)
    laws["scipy"] = p
    if not args.skip_chinchilla_package:
        row, p = chinchilla_package(args.chinchilla_timeout)
        rows.append(row)
        laws["chinchilla"] = p
    row, p = simple_scaling_laws()
    rows.append(row)
    laws["simple-scaling-laws"] = p

    print(
        f"240 Chinchilla runs (Besiroglu et al. 2024); python {platform.python_version()}, "
        f"{os.cpu_count()} cores; objective = summed Huber (delta 1e-3) of log residuals"
    )
    print()
    print("| fit | objective reached | time | note |")
    print("| --- | --- | --- | --- |")
    for name, obj, secs, note in rows:
        o = "-" if obj is None else f"{obj:.9e}"
        s = "-" if secs is None else (f"{secs * 1e3:.1f} ms" if secs < 1 else f"{secs:.1f} s")
        print(f"| {name} | {o} | {s} | {note} |")
    print()
    for k, v in laws.items():
        if v is not None:
            print(f"{k}: E={v[0]:.4f} A={v[1]:.2f} B={v[2]:.2f} alpha={v[3]:.4f} beta={v[4]:.4f}")


if __name__ == "__main__":
    main()
