"""Reference values for the multi-power law (Luo et al. 2025) and the annealing law
(Tissue et al. 2024) on four learning-rate schedules.

Writes tests/data/multipower_reference.json. Run: python3 tests/reference/multipower.py
Deterministic (no randomness).

CONVENTIONS (exactly what the numbers below use)
  Warmup: W = 100 steps, linear from 0 to the peak: warmup lr of warmup update j (j = 0..W-1)
          is peak * (j + 1) / W, so the last warmup update is at the peak.
          S_W = sum of the W warmup lrs = peak * (W + 1) / 2.
  Post-warmup schedule: T = 3000 steps; lrs[i] (i = 0..T-1) is the lr of post-warmup update i+1.
  Step s (s = 1..T) is the loss after s post-warmup updates.  eta_k = lrs[k-1] for k >= 1 and
  eta_0 = peak.  S1(s) = lrs[0] + ... + lrs[s-1].
  Schedules (peak = 3e-4, floor = 3e-5):
    constant : lrs[i] = peak
    cosine   : lrs[i] = floor + (peak - floor) * 0.5 * (1 + cos(pi * i / (T - 1)))   (lrs[0]=peak, lrs[T-1]=floor)
    wsd      : stable for i < T_s = 2400 (= 0.8 T), then linear decay over the last 600 steps:
               lrs[i] = peak + (floor - peak) * (i - T_s + 1) / (T - T_s) for i >= T_s   (lrs[T-1]=floor)
    two_stage: lrs[i] = peak for i < 2000, floor for i >= 2000
  Multi-power law:
    L(s) = L0 + A (S1(s) + S_W)^(-alpha) - LD(s)
    LD(s) = B * sum_{k=1..s} (eta_{k-1} - eta_k) * G(eta_k^(-gamma) * S_k(s)),
    S_k(s) = sum_{tau=k..s} eta_tau = lrs[k-1] + ... + lrs[s-1],  G(x) = 1 - (C x + 1)^(-beta).
    Evaluated naively: for each k, S_k(s) = math.fsum(lrs[k-1:s]) (correctly rounded), and the sum
    over k with math.fsum: O(s^2) per query step.  Cross-checked by a vectorised prefix-sum version.
  Annealing law (Tissue et al.):
    L(s) = L0 + A S1_t(s)^(-alpha) - C S2(s), with warmup steps counted at eta_max:
    S1_t(s) = W * peak + S1(s);  m_0 = 0, m_i = lambda m_{i-1} + (eta_{i-1} - eta_i) for i = 1..s
    (eta_0 = peak; warmup contributes nothing to S2 since the lr is counted constant at the peak);
    S2(s) = m_1 + ... + m_s.
"""
import math
import os
import sys

# single-threaded BLAS (scipy optimizers make many tiny BLAS calls; threading only slows them)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import versions, write_json  # noqa: E402

PEAK = 3e-4
FLOOR = 3e-5
W = 100
T = 3000
WSD_STABLE = 2400
TWO_STAGE_SWITCH = 2000
STEPS = [1, 10, 100, 500, 1000, 1500, 2000, 2500, 3000]

MP = {"L0": 2.8, "A": 0.5, "alpha": 0.5, "B": 400.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
TISSUE = {"L0": 2.8, "A": 0.5, "alpha": 0.5, "C": 500.0, "lambda": 0.999}
TISSUE_SMALL_C = {"L0": 2.8, "A": 0.5, "alpha": 0.5, "C": 1.0, "lambda": 0.999}


def warmup_lrs():
    return [PEAK * (j + 1) / W for j in range(W)]


def schedule(name):
    if name == "constant":
        return [PEAK] * T
    if name == "cosine":
        return [FLOOR + (PEAK - FLOOR) * 0.5 * (1.0 + math.cos(math.pi * i / (T - 1))) for i in range(T)]
    if name == "wsd":
        return [PEAK if i < WSD_STABLE else PEAK + (FLOOR - PEAK) * (i - WSD_STABLE + 1) / (T - WSD_STABLE)
                for i in range(T)]
    if name == "two_stage":
        return [PEAK if i < TWO_STAGE_SWITCH else FLOOR for i in range(T)]
    raise ValueError(name)


def multipower_naive(lrs, s, S_W, p):
    S1 = math.fsum(lrs[:s])
    terms = []
    for k in range(1, s + 1):
        eta_prev = PEAK if k == 1 else lrs[k - 2]
        eta_k = lrs[k - 1]
        d = eta_prev - eta_k
        if d == 0.0:
            continue  # term is exactly zero
        Sk = math.fsum(lrs[k - 1:s])
        x = eta_k ** (-p["gamma"]) * Sk
        G = 1.0 - (p["C"] * x + 1.0) ** (-p["beta"])
        terms.append(d * G)
    LD = p["B"] * math.fsum(terms)
    L = p["L0"] + p["A"] * (S1 + S_W) ** (-p["alpha"]) - LD
    return L, S1, LD


def multipower_vec(lrs, S_W, p):
    """Vectorised cross-check: all steps 1..T via prefix sums (S_k(s) = P[s] - P[k-1])."""
    eta = np.asarray(lrs)
    P = np.concatenate([[0.0], np.cumsum(eta)])
    d = np.concatenate([[PEAK], eta[:-1]]) - eta  # eta_{k-1} - eta_k for k = 1..T
    out = np.empty(T)
    nz = np.nonzero(d)[0]
    for s in range(1, T + 1):
        ks = nz[nz < s]  # 0-based k-1
        Sk = P[s] - P[ks]
        G = 1.0 - (p["C"] * eta[ks] ** (-p["gamma"]) * Sk + 1.0) ** (-p["beta"])
        out[s - 1] = p["L0"] + p["A"] * (P[s] + S_W) ** (-p["alpha"]) - p["B"] * np.sum(d[ks] * G)
    return out


def tissue(lrs, p):
    """Returns arrays over s = 1..T of (L, S1_t, S2)."""
    m = 0.0
    S2 = 0.0
    S1 = W * PEAK
    Ls, S1s, S2s = [], [], []
    eta_prev = PEAK
    for i in range(T):
        eta = lrs[i]
        m = p["lambda"] * m + (eta_prev - eta)
        S2 += m
        S1 += eta
        eta_prev = eta
        Ls.append(p["L0"] + p["A"] * S1 ** (-p["alpha"]) - p["C"] * S2)
        S1s.append(S1)
        S2s.append(S2)
    return Ls, S1s, S2s


def main():
    wl = warmup_lrs()
    S_W = math.fsum(wl)
    out = {
        "description": "Multi-power law (Luo et al. 2025, naive O(T^2)) and annealing law (Tissue et al. 2024) reference values",
        "conventions": __doc__.split("CONVENTIONS (exactly what the numbers below use)")[1].strip(),
        "peak_lr": PEAK, "floor_lr": FLOOR, "warmup_steps": W, "post_warmup_steps": T,
        "warmup_area_S_W": S_W, "wsd_stable_steps": WSD_STABLE, "two_stage_switch": TWO_STAGE_SWITCH,
        "query_steps": STEPS,
        "multipower_params": MP,
        "tissue_params": TISSUE,
        "tissue_params_small_C": TISSUE_SMALL_C,
        "tissue_note": "With C = 500 (as requested) the annealing term C*S2 reaches O(10-100) and the predicted loss goes negative for decaying schedules: these are formula checks only. tissue_small_C uses C = 1 for physically plausible values.",
        "schedules": {},
    }
    for name in ("constant", "cosine", "wsd", "two_stage"):
        lrs = schedule(name)
        vec = multipower_vec(lrs, S_W, MP)
        rows = []
        for s in STEPS:
            L, S1, LD = multipower_naive(lrs, s, S_W, MP)
            rows.append({"step": s, "lr": lrs[s - 1], "S1": S1, "LD": LD, "loss": L,
                         "vectorised_loss": float(vec[s - 1])})
        tL, tS1, tS2 = tissue(lrs, TISSUE)
        tLs, _, _ = tissue(lrs, TISSUE_SMALL_C)
        trows = [{"step": s, "S1": tS1[s - 1], "S2": tS2[s - 1], "loss": tL[s - 1],
                  "loss_small_C": tLs[s - 1]} for s in STEPS]
        out["schedules"][name] = {
            "lr_checksums": {"sum": math.fsum(lrs), "lrs_0": lrs[0], "lrs_1": lrs[1],
                             "lrs_2399": lrs[2399], "lrs_2400": lrs[2400], "lrs_2999": lrs[2999]},
            "multipower": rows,
            "max_abs_diff_naive_vs_vectorised": max(abs(r["loss"] - r["vectorised_loss"]) for r in rows),
            "tissue": trows,
        }
        print(name, [round(r["loss"], 6) for r in rows])
        print("  tissue", [round(r["loss"], 4) for r in trows])
        print("  tissue C=1", [round(r["loss_small_C"], 6) for r in trows])
    out.update(versions())
    write_json("multipower_reference.json", out)


if __name__ == "__main__":
    main()
