"""Reference optimum for issue 11 item 7's steep lower envelope, by scipy.

Writes tests/reference/issue11_lower_envelope.json. No crate code. The data, runs96.csv (n, d,
loss), are the issue's runs96: simulate(ChinchillaLaw::besiroglu_2024(),
IsoFlopDesign::log_spaced(6e18, 3e21, 8, 12), Noise::LogNormal { sigma: 0.01 }, 7), written
with 17 significant digits. The objective is the crate's asymmetric Huber on log residuals,
r = ln L - ln(E + A N^-alpha + B D^-beta), delta = 1e-3, with the penalty of a negative
residual (a run over-predicted) multiplied by 1e6, summed. It is minimised over
(ln E, ln A, ln B, alpha, beta) from a grid of 3^5 starts with L-BFGS-B (finite-difference
gradients), then Nelder-Mead and Powell from the best few; the lowest objective is kept. A
global minimum can only be lower than this value.
"""
import json
import os
import sys

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
from scipy.optimize import minimize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import versions  # noqa: E402

d = np.loadtxt(os.path.join(HERE, "runs96.csv"), delimiter=",", skiprows=1)
lnN, lnD, lnL = np.log(d[:, 0]), np.log(d[:, 1]), np.log(d[:, 2])
OVER, DELTA = 1e6, 1e-3


def objective(p):
    e, a, b, al, be = p
    pred = np.logaddexp(np.logaddexp(a - al * lnN, b - be * lnD), e)
    r = lnL - pred
    h = np.where(np.abs(r) <= DELTA, 0.5 * r * r, DELTA * (np.abs(r) - DELTA / 2))
    return float(np.sum(np.where(r < 0, OVER * h, h)))


def main():
    found = []
    for e in (-1.0, 0.0, 1.0):
        for a in (0.0, 5.0, 10.0):
            for b in (0.0, 5.0, 10.0):
                for al in (0.2, 0.5, 1.0):
                    for be in (0.2, 0.5, 1.0):
                        r = minimize(objective, [e, a, b, al, be], method="L-BFGS-B",
                                     options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-12})
                        found.append((r.fun, list(r.x)))
    found.sort(key=lambda t: t[0])
    best = found[0]
    for _, x in found[:5]:
        for method, opts in (("Nelder-Mead", {"maxiter": 40000, "maxfev": 40000, "xatol": 1e-12,
                                              "fatol": 1e-16}),
                             ("Powell", {"maxiter": 40000, "xtol": 1e-12, "ftol": 1e-16})):
            r = minimize(objective, x, method=method, options=opts)
            if r.fun < best[0]:
                best = (float(r.fun), list(r.x))
    e, a, b, al, be = best[1]
    out = {
        "about": __doc__.strip().splitlines()[0],
        **versions(),
        "objective": best[0],
        "e": float(np.exp(e)),
        "a": float(np.exp(a)),
        "b": float(np.exp(b)),
        "alpha": float(al),
        "beta": float(be),
    }
    with open(os.path.join(HERE, "issue11_lower_envelope.json"), "w") as fh:
        json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
