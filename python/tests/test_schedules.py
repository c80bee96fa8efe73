"""Schedules, the multi-power and annealing laws: predictions against the repository's naive
numpy reference, fits recovering simulated truth, schedule optimisation."""

import numpy as np
import pytest

import scaling_laws as sl
from conftest import reference

REF = reference("multipower_reference.json")
W, T, PEAK, FLOOR = REF["warmup_steps"], REF["post_warmup_steps"], REF["peak_lr"], REF["floor_lr"]


def reference_schedule(name):
    """The reference's schedules, built from numpy arrays (conventions in the JSON)."""
    i = np.arange(T)
    if name == "constant":
        post = np.full(T, PEAK)
    elif name == "cosine":
        post = FLOOR + (PEAK - FLOOR) * 0.5 * (1 + np.cos(np.pi * i / (T - 1)))
    elif name == "wsd":
        ts = REF["wsd_stable_steps"]
        post = np.where(i < ts, PEAK, PEAK + (FLOOR - PEAK) * (i - ts + 1) / (T - ts))
    else:
        post = np.where(i < REF["two_stage_switch"], PEAK, FLOOR)
    warm = PEAK * (np.arange(W) + 1) / W
    return sl.Schedule(np.concatenate([warm, post])).with_warmup(W)


def test_builders():
    assert np.array_equal(sl.Schedule.wsd(1.0, 0.0, 8, 0.5).lrs, [1, 1, 1, 1, 1, 0.75, 0.5, 0.25])
    assert np.array_equal(sl.Schedule.step_decay(1.0, 5, [2, 4], 0.5).lrs, [1, 1, 0.5, 0.5, 0.25])
    s = sl.Schedule.linear_warmup(3e-4, 100).then(sl.Schedule.cosine(3e-4, 3e-5, 900))
    assert len(s) == 1000 and s.warmup_steps == 100 and s.peak == 3e-4
    assert np.allclose(s.cumulative_area(), np.concatenate([[0.0], np.cumsum(s.lrs)]))
    assert len(sl.Schedule.two_stage(1e-3, 10, 1e-4, 5)) == 15
    assert len(sl.Schedule.inverse_sqrt(1e-3, 10, 100)) == 100
    assert np.array_equal(sl.Schedule(np.full(7, 2e-4)).lrs, sl.Schedule.constant(2e-4, 7).lrs)


@pytest.mark.parametrize("name", ["constant", "cosine", "wsd", "two_stage"])
def test_predictions_match_the_naive_reference(name):
    s = reference_schedule(name)
    p = REF["multipower_params"]
    law = sl.MultiPowerLaw(p["L0"], p["A"], p["alpha"], p["B"], p["C"], p["beta"], p["gamma"])
    steps = W + np.array(REF["query_steps"])
    want = [q["loss"] for q in REF["schedules"][name]["multipower"]]
    assert np.allclose(law.predict(s, steps), want, rtol=0, atol=1e-10)
    assert abs(law.final_loss(s) - want[-1]) < 1e-10
    t = REF["tissue_params_small_C"]
    ann = sl.AnnealingLaw(t["L0"], t["A"], t["alpha"], t["C"], t["lambda"])
    want = [q["loss_small_C"] for q in REF["schedules"][name]["tissue"]]
    assert np.allclose(ann.predict(s, steps), want, rtol=0, atol=1e-10)


def simulated_curves(law, names=("constant", "cosine", "wsd")):
    steps = W + np.arange(50, T + 1, 50)
    return [sl.LossCurve(reference_schedule(n), steps, law.predict(reference_schedule(n), steps)) for n in names]


def test_multipower_fit_recovers_simulated_truth():
    truth = sl.MultiPowerLaw(2.8, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    curves = simulated_curves(truth)
    fit = sl.fit_multipower(curves)
    assert fit.report.converged
    held_out = reference_schedule("two_stage")
    steps = W + np.arange(100, T + 1, 100)
    assert np.allclose(fit.law.predict(held_out, steps), truth.predict(held_out, steps), rtol=1e-4)
    # the same fit from a dict of curves
    assert sl.fit_multipower(dict(zip("abc", curves))) == fit


def test_annealing_fit_recovers_simulated_truth():
    truth = sl.AnnealingLaw(2.8, 0.5, 0.5, 1.0, 0.999)
    curves = simulated_curves(truth)
    fit = sl.fit_annealing(curves)
    assert fit.report.converged
    s = reference_schedule("two_stage")
    assert abs(fit.law.final_loss(s) - truth.final_loss(s)) < 1e-4


def test_optimised_schedule_beats_cosine():
    law = sl.MultiPowerLaw(2.375, 0.654, 0.429, 523.4, 2.025, 0.594, 0.635)
    opt = sl.optimize_schedule(law, 2000, 3e-4, 100)
    cosine = sl.Schedule.linear_warmup(3e-4, 100).then(sl.Schedule.cosine(3e-4, 0.0, 1900))
    assert opt.final_loss <= law.final_loss(cosine)
    assert abs(opt.final_loss - law.final_loss(opt.schedule)) < 1e-12
    assert np.all(np.diff(opt.schedule.lrs[100:]) <= 0)
    assert opt.status == "Converged"
