"""Sigmoidal compute-performance fit (Khatri et al. 2025) and BNSL formula values.

Writes tests/data/sigmoid_noisy.csv (columns compute,reward), tests/data/sigmoid_noisy_fit.json
and tests/data/bnsl_reference.json.  Run: python3 tests/reference/sigmoid_bnsl.py

Sigmoid data: 100 points C = logspace(log10 50, log10 20000, 100) (up to 4*C_mid),
R = R0 + (A - R0) / (1 + (C_mid / C)^B) + 0.01 z, z ~ N(0,1) from default_rng(SEED),
R0 = 0.3, A = 0.61, B = 2, C_mid = 5000.
Fit: scipy.optimize.curve_fit (least squares, unweighted) of (R0, A, B, C_mid), then a tight
least_squares polish from several starts; the lowest sum of squared residuals is reported.
"""
import os
import sys

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
from scipy.optimize import curve_fit, least_squares  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import DATA_DIR, fmt, versions, write_json  # noqa: E402

SEED = 5_000_2025
TRUE = {"R0": 0.3, "A": 0.61, "B": 2.0, "C_mid": 5000.0}
NOISE_SD = 0.01


def sigmoid(C, R0, A, B, Cmid):
    return R0 + (A - R0) / (1.0 + (Cmid / C) ** B)


def bnsl(x, a, b, c0, breaks):
    """y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i); breaks = [(c_i, d_i, f_i)]."""
    y = b * x ** (-c0)
    for c, d, f in breaks:
        y = y * (1.0 + (x / d) ** (1.0 / f)) ** (-c * f)
    return a + y


def main():
    rng = np.random.default_rng(SEED)
    C = np.logspace(np.log10(50.0), np.log10(4 * TRUE["C_mid"]), 100)
    R = sigmoid(C, **{"R0": TRUE["R0"], "A": TRUE["A"], "B": TRUE["B"], "Cmid": TRUE["C_mid"]}) \
        + NOISE_SD * rng.standard_normal(C.size)
    os.makedirs(DATA_DIR, exist_ok=True)
    with open(os.path.join(DATA_DIR, "sigmoid_noisy.csv"), "w") as fh:
        fh.write("compute,reward\n")
        for c, r in zip(C, R):
            fh.write(f"{fmt(c)},{fmt(r)}\n")

    p0 = [0.2, 0.8, 1.0, 2000.0]
    popt, pcov = curve_fit(sigmoid, C, R, p0=p0, maxfev=100000)
    cands = [("curve_fit", popt)]
    # tight polish in (R0, A, B, log Cmid) from several starts
    res_fn = lambda q: sigmoid(C, q[0], q[1], q[2], np.exp(q[3])) - R  # noqa: E731
    for st in ([popt[0], popt[1], popt[2], np.log(popt[3])], [0.2, 0.8, 1.0, np.log(2000.0)],
               [0.4, 0.5, 3.0, np.log(10000.0)], [0.3, 0.7, 0.5, np.log(500.0)]):
        ls = least_squares(res_fn, st, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=100000)
        q = ls.x
        cands.append(("least_squares lm from %s" % [round(float(v), 4) for v in st],
                      np.array([q[0], q[1], q[2], np.exp(q[3])])))
    scored = sorted(((float(np.sum((sigmoid(C, *p) - R) ** 2)), n, p) for n, p in cands), key=lambda t: t[0])
    sse, name, best = scored[0]
    # covariance as curve_fit defines it (absolute_sigma=False) at the best point
    popt2, pcov2 = curve_fit(sigmoid, C, R, p0=best, maxfev=100000)
    out = {
        "description": "Least-squares fit of R(C) = R0 + (A - R0)/(1 + (C_mid/C)^B) to sigmoid_noisy.csv",
        "data": {"seed": SEED, "compute": "numpy.logspace(log10(50), log10(20000), 100)",
                 "reward": "R(C; true) + 0.01 * default_rng(seed).standard_normal(100)", "true": TRUE},
        "objective": "sum of squared residuals (R - R_hat)^2, unweighted",
        "fit": {"R0": float(best[0]), "A": float(best[1]), "B": float(best[2]), "C_mid": float(best[3]),
                "sse": sse, "method": name,
                "stderr_curve_fit": [float(v) for v in np.sqrt(np.diag(pcov2))],
                "stderr_order": ["R0", "A", "B", "C_mid"]},
        "curve_fit_default": {"R0": float(popt[0]), "A": float(popt[1]), "B": float(popt[2]),
                              "C_mid": float(popt[3]), "p0": p0},
        "candidates": [{"method": n, "sse": s} for s, n, _ in scored],
        "max_rel_param_diff_across_candidates": [float(v) for v in np.max(
            np.abs(np.array([p for _, _, p in scored]) - best) / np.abs(best), axis=0)],
    }
    out.update(versions())
    write_json("sigmoid_noisy_fit.json", out)
    print("sigmoid", out["fit"])

    xs = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
    sets = [
        {"a": 0.0, "b": 1.0, "c0": 0.5, "breaks": []},
        {"a": 0.1, "b": 2.0, "c0": 0.2, "breaks": [(0.5, 100.0, 0.3)]},
        {"a": 0.05, "b": 5.0, "c0": 0.1, "breaks": [(0.4, 50.0, 0.5), (-0.3, 2e4, 1.0)]},
    ]
    bn = {"formula": "y = a + b x^(-c0) prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i); breaks listed as [c_i, d_i, f_i]",
          "cases": [{**{k: v for k, v in s.items() if k != "breaks"}, "breaks": [list(t) for t in s["breaks"]],
                     "points": [{"x": x, "y": float(bnsl(x, s["a"], s["b"], s["c0"], s["breaks"]))} for x in xs]}
                    for s in sets]}
    bn.update(versions())
    write_json("bnsl_reference.json", bn)


if __name__ == "__main__":
    main()
