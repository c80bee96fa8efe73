"""Reference allocations, budgets-for-loss and closed-form evaluations.

Writes tests/data/allocation_reference.json. Run: python3 tests/reference/allocation.py

Every optimum is computed two independent ways where possible:
  (1) closed form, or brentq on the analytic derivative along the constraint in log N;
  (2) scipy.optimize.minimize_scalar (bounded Brent) on the objective in log N.
The reported value is (1); (2) and the relative difference are kept as a cross-check.
No randomness is used (no seed needed).
"""
import os
import sys

# single-threaded BLAS (scipy optimizers make many tiny BLAS calls; threading only slows them)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
from scipy.optimize import brentq, minimize_scalar

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import versions, write_json  # noqa: E402

HOFF_LOG = {"e": 0.5267228, "a": 6.0073404, "b": 6.0179186}
LAWS = {
    "hoffmann_unrounded": {"E": float(np.exp(HOFF_LOG["e"])), "A": float(np.exp(HOFF_LOG["a"])),
                           "B": float(np.exp(HOFF_LOG["b"])), "alpha": 0.33917084, "beta": 0.2849083,
                           "definition": "E=exp(0.5267228), A=exp(6.0073404), B=exp(6.0179186), alpha=0.33917084, beta=0.2849083"},
    "hoffmann_unrounded_table": {"E": 1.693374, "A": 406.401, "B": 410.723, "alpha": 0.33917084, "beta": 0.2849083,
                                 "definition": "table values E=1.693374, A=406.401, B=410.723 (differ from exp(log) by <1e-7 relative)"},
    "besiroglu": {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658,
                  "definition": "Besiroglu et al. 2024"},
}
BUDGETS = [1e18, 1e20, 1e21, 1e22, 1e24, 5.76e23]
N_LAYER, N_CTX, D_MODEL = 32, 2048, 4096
K_ATTN = N_LAYER * N_CTX * D_MODEL  # 268,435,456


def chin(p, N, D):
    return p["E"] + p["A"] * N ** (-p["alpha"]) + p["B"] * D ** (-p["beta"])


def rel(a, b):
    return abs(a - b) / abs(b)


def closed_6nd(p, C):
    al, be = p["alpha"], p["beta"]
    G = (al * p["A"] / (be * p["B"])) ** (1.0 / (al + be))
    N = G * (C / 6.0) ** (be / (al + be))
    D = (C / 6.0) ** (al / (al + be)) / G
    return N, D


def brent_min(f, lo, hi):
    r = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12, "maxiter": 10000})
    return float(r.x)


# ------------------------------------------------------------------ 6ND and attention cost
def alloc_6nd(p, C):
    Nc, Dc = closed_6nd(p, C)
    # brentq on dL/dlogN along D = C/(6N)
    def g(x):
        N = np.exp(x); D = C / (6 * N)
        return -p["alpha"] * p["A"] * N ** (-p["alpha"]) + p["beta"] * p["B"] * D ** (-p["beta"])
    lo, hi = np.log(1e3), np.log(C / 6 / 1e3)
    xb = brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    xm = brent_min(lambda x: chin(p, np.exp(x), C / (6 * np.exp(x))), lo, hi)
    Nb = float(np.exp(xb))
    return {"C": C, "N_opt": Nc, "D_opt": Dc, "loss": float(chin(p, Nc, Dc)), "tokens_per_param": Dc / Nc,
            "check_brentq_N": Nb, "check_brentq_rel_diff": rel(Nb, Nc),
            "check_minimize_scalar_N": float(np.exp(xm)), "check_minimize_scalar_rel_diff": rel(float(np.exp(xm)), Nc)}


def alloc_attn(p, C):
    """C = 6 N D + 6 n_layer n_ctx d_model D  =>  D = C / (6 (N + K))."""
    K = float(K_ATTN)
    Dof = lambda N: C / (6.0 * (N + K))  # noqa: E731

    def g(x):
        N = np.exp(x); D = Dof(N)
        return -p["alpha"] * p["A"] * N ** (-p["alpha"]) + p["beta"] * p["B"] * D ** (-p["beta"]) * N / (N + K)
    lo, hi = np.log(1e3), np.log(C / 6 / 1e3)
    xb = brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    xm = brent_min(lambda x: chin(p, np.exp(x), Dof(np.exp(x))), lo, hi)
    N = float(np.exp(xb)); D = Dof(N)
    Nm = float(np.exp(xm))
    return {"C": C, "N_opt": N, "D_opt": D, "loss": float(chin(p, N, D)), "tokens_per_param": D / N,
            "cost_check_6ND_plus_6KD": 6 * N * D + 6 * K * D,
            "check_minimize_scalar_N": Nm, "check_minimize_scalar_rel_diff": rel(Nm, N)}


# ------------------------------------------------------------------ loss targets
def dtrain_for_target(p, N, T):
    gap = T - p["E"] - p["A"] * N ** (-p["alpha"])
    return (p["B"] / gap) ** (1.0 / p["beta"])


def sardana(p, T, Dinf):
    """min 6 N D_train + 2 N D_inf  s.t.  L(N, D_train) = T."""
    al, be = p["alpha"], p["beta"]
    Nmin = (p["A"] / (T - p["E"])) ** (1.0 / al)

    def cost(x):
        N = np.exp(x)
        return 6 * N * dtrain_for_target(p, N, T) + 2 * N * Dinf

    def dcost(x):  # d cost / d log N
        N = np.exp(x)
        gap = T - p["E"] - p["A"] * N ** (-al)
        Dt = (p["B"] / gap) ** (1.0 / be)
        dlogDt = -(1.0 / be) * al * p["A"] * N ** (-al) / gap
        return 6 * N * Dt * (1 + dlogDt) + 2 * N * Dinf

    lo = np.log(Nmin) + 1e-9
    hi = np.log(Nmin) + 40.0
    xb = brentq(dcost, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    xm = brent_min(lambda x: np.log(cost(x)), lo, hi)
    N = float(np.exp(xb)); Dt = float(dtrain_for_target(p, N, T))
    return {"target_loss": T, "D_inf": Dinf, "N": N, "D_train": Dt, "train_flops_6ND": 6 * N * Dt,
            "inference_flops_2ND": 2 * N * Dinf, "total_cost": 6 * N * Dt + 2 * N * Dinf,
            "loss_check": float(chin(p, N, Dt)), "tokens_per_param": Dt / N,
            "check_minimize_scalar_N": float(np.exp(xm)),
            "check_minimize_scalar_rel_diff": rel(float(np.exp(xm)), N)}


def flops_for_loss(p, T):
    """Minimal C = 6ND with L(N, D) = T: both via Sardana with D_inf = 0 and via brentq on
    L_opt(C) = T using the closed-form compute-optimal allocation."""
    s = sardana(p, T, 0.0)
    f = lambda lc: chin(p, *closed_6nd(p, np.exp(lc))) - T  # noqa: E731
    lc = brentq(f, np.log(1e10), np.log(1e40), xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    C2 = float(np.exp(lc))
    N2, D2 = closed_6nd(p, C2)
    return {"target_loss": T, "flops": s["total_cost"], "N": s["N"], "D": s["D_train"],
            "check_closed_form_inverse_flops": C2, "check_closed_form_N": N2, "check_closed_form_D": D2,
            "check_rel_diff_flops": rel(C2, s["total_cost"])}


# ------------------------------------------------------------------ Kaplan
KAP_ND = {"alpha_N": 0.076, "alpha_D": 0.103, "N_c": 6.4e13, "D_c": 1.8e13}
KAP_NS = {"alpha_N": 0.077, "N_c": 6.5e13, "S_c": 2.1e3, "alpha_S": 0.76}
KAP_B = {"B_star": 2e8, "alpha_B": 0.21}


def kaplan_nd(N, D):
    k = KAP_ND
    return ((k["N_c"] / N) ** (k["alpha_N"] / k["alpha_D"]) + k["D_c"] / D) ** k["alpha_D"]


def kaplan_ns(N, S_min):
    k = KAP_NS
    return (k["N_c"] / N) ** k["alpha_N"] + (k["S_c"] / S_min) ** k["alpha_S"]


def b_crit(L):
    return KAP_B["B_star"] / L ** (1.0 / KAP_B["alpha_B"])


# ------------------------------------------------------------------ Muennighoff
MU = {"e": 0.6254804, "a": 6.255414, "b": 7.3049974, "alpha": 0.3526596, "beta": 0.3526596,
      "R_D_star": 15.387756, "R_N_star": 5.309743}
MU["E"], MU["A"], MU["B"] = float(np.exp(MU["e"])), float(np.exp(MU["a"])), float(np.exp(MU["b"]))
MU_G = (MU["alpha"] * MU["A"] / (MU["beta"] * MU["B"])) ** (1.0 / (MU["alpha"] + MU["beta"]))


def mu_nopt_for_data(U_D):
    """N whose compute-optimal D (base law, C = 6ND) equals U_D: N = G (G U_D)^(beta/alpha)
    (same as datablations' D_to_N(D) = (D G)^(beta/alpha) G)."""
    return MU_G * (MU_G * U_D) ** (MU["beta"] / MU["alpha"])


def mu_parts(N, D, U_D):
    Ueff = min(U_D, D)
    R_D = D / Ueff - 1.0
    Dp = Ueff + Ueff * MU["R_D_star"] * (1 - np.exp(-R_D / MU["R_D_star"]))
    U_N = min(N, mu_nopt_for_data(U_D))
    R_N = N / U_N - 1.0
    Np = U_N + U_N * MU["R_N_star"] * (1 - np.exp(-R_N / MU["R_N_star"]))
    return Np, Dp, U_N, R_N, R_D


def mu_loss(N, D, U_D):
    Np, Dp, *_ = mu_parts(N, D, U_D)
    return MU["E"] + MU["A"] / Np ** MU["alpha"] + MU["B"] / Dp ** MU["beta"]


def mu_dloss_dlogN(N, C, U_D):
    """d/dlogN of the data-constrained loss along D = C/(6N) (continuous: C^1 across the kinks)."""
    D = C / (6 * N)
    Np, Dp, U_N, R_N, R_D = mu_parts(N, D, U_D)
    dNp = N * (np.exp(-R_N / MU["R_N_star"]) if N > U_N else 1.0)
    dDp = -D * (np.exp(-R_D / MU["R_D_star"]) if D > U_D else 1.0)
    return -MU["alpha"] * MU["A"] * Np ** (-MU["alpha"] - 1) * dNp - MU["beta"] * MU["B"] * Dp ** (-MU["beta"] - 1) * dDp


def mu_alloc(U_D, C):
    lo, hi = np.log(1e6), np.log(C / 6 / 1e6)
    xs = np.linspace(lo, hi, 20001)
    Ls = np.array([mu_loss(np.exp(x), C / (6 * np.exp(x)), U_D) for x in xs])
    i = int(np.argmin(Ls))
    assert 0 < i < len(xs) - 1, "optimum at the search boundary"
    a, b = xs[i - 1], xs[i + 1]
    ga, gb = mu_dloss_dlogN(np.exp(a), C, U_D), mu_dloss_dlogN(np.exp(b), C, U_D)
    assert ga < 0 < gb
    xb = brentq(lambda x: mu_dloss_dlogN(np.exp(x), C, U_D), a, b, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    xm = brent_min(lambda x: mu_loss(np.exp(x), C / (6 * np.exp(x)), U_D), a, b)
    # count local minima on the dense grid (to flag non-convexity)
    nloc = int(np.sum((Ls[1:-1] < Ls[:-2]) & (Ls[1:-1] <= Ls[2:])))
    N = float(np.exp(xb)); D = C / (6 * N)
    Np, Dp, U_N, R_N, R_D = mu_parts(N, D, U_D)
    return {"U_D": U_D, "C": C, "N": N, "D": D, "epochs": D / U_D, "loss": float(mu_loss(N, D, U_D)),
            "N_opt_of_U_D": mu_nopt_for_data(U_D), "U_N": U_N, "R_N": R_N, "R_D": R_D,
            "N_prime": Np, "D_prime": Dp,
            "base_law_closed_form_6ND": dict(zip(("N", "D"), closed_6nd(MU, C))),
            "n_local_minima_on_grid": nloc,
            "check_dense_grid_N": float(np.exp(xs[i])),
            "check_minimize_scalar_N": float(np.exp(xm)), "check_minimize_scalar_rel_diff": rel(float(np.exp(xm)), N)}


def main():
    out = {"description": "Independent scipy/numpy reference values for allocation, budgets and closed-form laws"}
    out["laws"] = {k: v for k, v in LAWS.items()}
    out["chinchilla_6ND"] = {
        "cost_model": "C = 6 N D",
        "method": "closed form G=(alpha A/(beta B))^(1/(alpha+beta)), N=G (C/6)^(beta/(alpha+beta)), D=G^-1 (C/6)^(alpha/(alpha+beta)); checked by brentq on dL/dlogN and minimize_scalar",
        **{name: [alloc_6nd(p, C) for C in BUDGETS] for name, p in LAWS.items()}}
    out["chinchilla_attention_cost"] = {
        "cost_model": "C = 6 N D + 6 n_layer n_ctx d_model D = 6 D (N + K), K = n_layer*n_ctx*d_model = 32*2048*4096 = 268435456 (fixed architecture, used only as a cost model); so D = C / (6 (N + K))",
        "n_layer": N_LAYER, "n_ctx": N_CTX, "d_model": D_MODEL, "K": K_ATTN,
        "method": "brentq on dL/dlogN = -alpha A N^-alpha + beta B D^-beta N/(N+K) = 0; checked by minimize_scalar on L",
        **{name: [alloc_attn(p, C) for C in BUDGETS] for name in ("hoffmann_unrounded", "besiroglu")
           for p in [LAWS[name]]}}
    out["sardana_inference_aware"] = {
        "law": "hoffmann_unrounded",
        "problem": "minimise 6 N D_train + 2 N D_inf subject to L(N, D_train) = target; D_train(N) = (B / (target - E - A N^-alpha))^(1/beta), N > (A/(target-E))^(1/alpha)",
        "method": "brentq on d cost / d log N; checked by minimize_scalar on log cost",
        "results": [sardana(LAWS["hoffmann_unrounded"], T, Di) for T in (2.2, 2.0) for Di in (0.0, 1e12, 1e13)]}
    out["flops_for_loss"] = {
        "definition": "minimal C = 6 N D such that L(N, D) = target (Chinchilla law); = Sardana with D_inf = 0; checked by brentq on L(N_opt(C), D_opt(C)) = target",
        **{name: [flops_for_loss(LAWS[name], T) for T in (2.5, 2.2, 2.0)] for name in ("hoffmann_unrounded", "besiroglu")}}
    ND = [(N, D) for N in (1e8, 1e9, 1e10) for D in (1e9, 1e10, 1e11)]
    NS = [(N, S) for N in (1e8, 1e9) for S in (1e3, 1e4, 1e5)]
    out["kaplan"] = {
        "L_N_D": {"formula": "[(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D", "constants": KAP_ND,
                  "points": [{"N": N, "D": D, "loss": float(kaplan_nd(N, D))} for N, D in ND]},
        "L_N_S": {"formula": "(N_c/N)^alpha_N + (S_c/S_min)^alpha_S", "constants": KAP_NS,
                  "points": [{"N": N, "S_min": S, "loss": float(kaplan_ns(N, S))} for N, S in NS]},
        "critical_batch": {
            "formula": "B_crit(L) = B_star / L^(1/alpha_B) [tokens]; S_min = S / (1 + B_crit/B); C_min = C / (1 + B/B_crit)",
            "constants": KAP_B,
            "B_crit": [{"L": L, "B_crit": float(b_crit(L))} for L in (2.0, 2.5, 3.0, 4.0)],
            "S_min": [{"S": S, "B": B, "L": L, "B_crit": float(b_crit(L)), "S_min": float(S / (1 + b_crit(L) / B))}
                      for S, B, L in ((1e5, 1e6, 3.0), (2e4, 5e5, 2.5), (1e6, 4e6, 2.0))],
            "C_min": [{"C": C, "B": B, "L": L, "B_crit": float(b_crit(L)), "C_min": float(C / (1 + B / b_crit(L)))}
                      for C, B, L in ((1e20, 1e6, 3.0), (1e21, 5e5, 2.5), (1e22, 4e6, 2.0))],
        },
    }
    pts = [(1e9, 1e10, 1e10), (1e9, 1e11, 1e10), (1e9, 4e11, 1e10), (1e10, 1e11, 1e10),
           (5e8, 1e11, 1e9), (1e9, 5e9, 1e10), (3e9, 3e11, 1e11)]
    mu_points = []
    for N, D, U in pts:
        Np, Dp, U_N, R_N, R_D = mu_parts(N, D, U)
        mu_points.append({"N": N, "D": D, "U_D": U, "loss": float(mu_loss(N, D, U)), "U_N": U_N,
                          "R_N": R_N, "R_D": R_D, "N_prime": Np, "D_prime": Dp})
    out["muennighoff"] = {
        "constants": {k: MU[k] for k in ("e", "a", "b", "E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")},
        "notes": [
            "E, A, B = exp(e), exp(a), exp(b) from the published logs.",
            "G = (alpha A / (beta B))^(1/(alpha+beta)); base-law compute-optimal allocation under C = 6ND: N = G (C/6)^(beta/(alpha+beta)), D = G^-1 (C/6)^(alpha/(alpha+beta)).",
            "N_opt(U_D) := the N whose compute-optimal D equals U_D = G (G U_D)^(beta/alpha) (datablations' D_to_N); here alpha = beta so N_opt(U_D) = G^2 U_D = %.10g U_D." % (MU_G ** 2),
            "U_N = min(N, N_opt(U_D)); R_N = N/U_N - 1 (>= 0).",
            "Effective unique tokens U = min(U_D, D) (a run cannot see more unique tokens than it trains on; datablations asserts U_D <= D and uses R_D = max(D/U_D - 1, 0)); R_D = D/U - 1 (>= 0).",
            "D' = U + U R_D* (1 - exp(-R_D/R_D*)), N' = U_N + U_N R_N* (1 - exp(-R_N/R_N*)), L = E + A/N'^alpha + B/D'^beta.",
            "Allocation: minimise L(N, C/(6N), U_D) over log N in [log 1e6, log(C/6e6)]: dense grid of 20001 points, then brentq on the analytic derivative (C^1 across both kinks) between the grid neighbours; checked by minimize_scalar. epochs = D / U_D.",
        ],
        "points": mu_points,
        "allocation": [mu_alloc(U, C) for U in (1e9, 1e10, 1e11) for C in (1e20, 1e21, 1e22)],
    }
    out.update(versions())
    write_json("allocation_reference.json", out)


if __name__ == "__main__":
    main()
