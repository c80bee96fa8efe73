"""Every result: repr, to_dict, to_json / from_json round trips, pickling, copies."""

import copy
import json
import pickle

import numpy as np
import pytest

import scaling_laws as sl


def results(fit240):
    x = np.logspace(7, 10, 20)
    s = sl.Schedule.linear_warmup(3e-4, 10).then(sl.Schedule.cosine(3e-4, 3e-5, 290))
    law = sl.MultiPowerLaw(2.8, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    curve = sl.LossCurve(s, np.arange(20, 301, 20), law.predict(s, np.arange(20, 301, 20)))
    boot = sl.bootstrap(sl.datasets.chinchilla_besiroglu_240(), resamples=8, budgets=[1e24], seed=2)
    return [
        fit240,
        fit240.law,
        fit240.report,
        sl.fit_power_law(x, 1.7 + 400 * x**-0.34),
        sl.fit_power_law(x, 1.7 + 400 * x**-0.34).law,
        sl.fit_sigmoid(np.logspace(2, 5, 30), 0.3 + 0.31 / (1 + (5000 / np.logspace(2, 5, 30)) ** 2)),
        sl.fit_bnsl(x, 0.1 + 2 * x**-0.2, 0),
        boot,
        boot.interval("alpha"),
        s,
        curve,
        law,
        sl.AnnealingLaw(2.8, 0.5, 0.5, 100.0),
        sl.optimize_schedule(law, 300, 3e-4, 10, knots=8),
    ]


def test_round_trips(fit240):
    for r in results(fit240):
        text = r.to_json()
        back = type(r).from_json(text)
        assert back == r, type(r).__name__
        assert back.to_json() == text
        assert json.loads(text) == r.to_dict()
        assert pickle.loads(pickle.dumps(r)) == r
        assert copy.deepcopy(r) == r and copy.copy(r) == r
        assert type(r).__name__ in repr(r)


def test_a_fit_pickled_and_loaded_back_keeps_every_number(fit240, tmp_path):
    path = tmp_path / "fit.pkl"
    path.write_bytes(pickle.dumps(fit240))
    back = pickle.loads(path.read_bytes())
    assert back.objective == fit240.objective
    assert back.law.alpha == fit240.law.alpha and back.law.e == fit240.law.e
    assert back.report.iterations == fit240.report.iterations
    assert back.law.compute_optimal(1e24) == fit240.law.compute_optimal(1e24)


def test_dict_form(fit240):
    d = fit240.to_dict()
    assert set(d) >= {"law", "objective", "report"}
    assert set(d["law"]) == {"e", "a", "b", "alpha", "beta"}
    assert d["law"]["alpha"] == fit240.law.alpha
    assert d["report"]["status"] == "Converged"
    assert "1.817" in repr(fit240) and "Converged" in repr(fit240)


def test_json_is_the_rust_crates_json():
    # A law written by the Rust crate's serde (field names e, a, b, alpha, beta) reads back.
    law = sl.ChinchillaLaw.from_json('{"e":1.69,"a":406.4,"b":410.7,"alpha":0.34,"beta":0.28}')
    assert law == sl.ChinchillaLaw.hoffmann_2022()
    assert law != sl.ChinchillaLaw.besiroglu_2024()
    assert law != "not a law"
