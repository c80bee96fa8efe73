"""Independent reference for tests/isoflop.rs (Czech et al. 2026 parabola bias).

Along the iso-FLOP line C = 6ND, L(N) = E + A N^-alpha + B (C/(6N))^-beta. Sample k sizes
log-spaced over [N_opt / w, N_opt * w] (symmetric in log N around the closed-form optimum),
fit a polynomial of degree 2 (the paper's parabola) and 3 (the cubic) to the loss against
log N with numpy.polyfit, take the local minimum, and report N_vertex / N_opt - 1. The ratio
does not depend on C, so it equals the relative error of k_N in N_opt = k_N C^a fitted over
budgets. Run: python3 isoflop_vertex_bias.py > isoflop_vertex_bias.json
"""
import json
import numpy as np

E, A, B = 1.693374, 406.401, 410.723  # Hoffmann et al. 2022, unrounded
ALPHA, BETA = 0.34, 0.28  # Czech et al. 2026 setting
C = 1e21


def n_opt(c):
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    return g * (c / 6) ** (BETA / (ALPHA + BETA))


def vertex(x, y, deg):
    mid, half = (x.min() + x.max()) / 2, (x.max() - x.min()) / 2
    t = (x - mid) / half
    p = np.polyfit(t, y, deg)
    d1, d2 = np.polyder(p), np.polyder(p, 2)
    roots = [r.real for r in np.roots(d1) if abs(r.imag) < 1e-12 and np.polyval(d2, r.real) > 0]
    (r,) = roots
    return np.exp(mid + half * r)


out = []
for w in (2.0, 16.0):
    k = 15
    n = n_opt(C) * np.exp(np.linspace(-np.log(w), np.log(w), k))
    y = E + A * n ** -ALPHA + B * (C / (6 * n)) ** -BETA
    x = np.log(n)
    out.append({
        "half_width": w,
        "sizes": k,
        "parabola_relative_error": vertex(x, y, 2) / n_opt(C) - 1,
        "cubic_relative_error": vertex(x, y, 3) / n_opt(C) - 1,
    })
print(json.dumps({"numpy": np.__version__, "alpha": ALPHA, "beta": BETA, "grids": out}, indent=2))
