"""Power law, sigmoid and broken power law from Python against the repository's scipy references."""

import numpy as np
import pytest

import scaling_laws as sl
from conftest import columns, reference


def rel(a, b):
    return abs(a - b) / abs(b)


def test_power_law_reaches_scipys_optimum():
    x, y = columns("power_law_noisy.csv")
    ref = reference("power_law_noisy_fit.json")
    fit = sl.fit_power_law(x, y)
    assert fit.report.converged
    assert fit.objective <= ref["huber"]["objective"] * (1 + 1e-9)
    assert rel(fit.law.alpha, ref["huber"]["alpha"]) < 1e-4
    assert rel(fit.law.e, ref["huber"]["E"]) < 1e-4
    sq = sl.fit_power_law(x, y, objective="squared_log")
    assert sq.objective <= ref["squared_log"]["objective"] * (1 + 1e-9)
    assert rel(sq.law.alpha, ref["squared_log"]["alpha"]) < 1e-5
    # predictions, inverse and named columns
    assert np.allclose(fit.law.predict(x), fit.law.e + fit.law.a * x ** -fit.law.alpha, rtol=1e-14)
    assert rel(fit.law.inverse(fit.law.predict(1e11)), 1e11) < 1e-9
    again = sl.fit_power_law("n", "l", data={"n": x, "l": y})
    assert again == fit


def test_pure_power_law_is_exact():
    x = np.logspace(1, 4, 10)
    fit = sl.fit_power_law(x, 3.0 * x**-0.2, floor=0.0)
    assert fit.law.e == 0.0 and rel(fit.law.a, 3.0) < 1e-12 and rel(fit.law.alpha, 0.2) < 1e-12


def test_sigmoid_matches_scipys_least_squares():
    c, r = columns("sigmoid_noisy.csv")
    ref = reference("sigmoid_noisy_fit.json")["fit"]
    fit = sl.fit_sigmoid(c, r)
    law = fit.law
    assert rel(law.r0, ref["R0"]) < 1e-5
    assert rel(law.a, ref["A"]) < 1e-5
    assert rel(law.b, ref["B"]) < 1e-4
    assert rel(law.c_mid, ref["C_mid"]) < 1e-4
    # the objective is half the sum of squares
    assert 2 * fit.objective <= ref["sse"] * (1 + 1e-9)
    assert fit.n_used == 100 and fit.n_dropped == 0
    assert abs(law.predict(law.c_mid) - (law.r0 + law.a) / 2) < 1e-12
    held = sl.fit_sigmoid(c, r, r0=0.3)
    assert held.law.r0 == 0.3


def test_bnsl_predictions_match_the_reference_and_a_fit_recovers_the_law():
    for case in reference("bnsl_reference.json")["cases"]:
        fit = sl.fit_bnsl(  # any fit gives a Bnsl; build the case's law through JSON
            [1.0, 10.0, 100.0, 1000.0, 1e4, 1e5], [1.0, 0.5, 0.3, 0.2, 0.15, 0.12], 0
        )
        law = sl.Bnsl.from_json(
            '{"a": %r, "b": %r, "c0": %r, "breaks": [%s]}'
            % (
                case["a"],
                case["b"],
                case["c0"],
                ", ".join('{"c": %r, "d": %r, "f": %r}' % tuple(b) for b in case["breaks"]),
            )
        )
        assert fit.law.a >= 0
        xs = np.array([p["x"] for p in case["points"]])
        ys = np.array([p["y"] for p in case["points"]])
        assert np.allclose(law.predict(xs), ys, rtol=1e-12)
    x = np.logspace(0, 6, 40)
    y = 0.1 + 2 * x**-0.2 * (1 + (x / 100) ** (1 / 0.3)) ** (-0.5 * 0.3)
    fit = sl.fit_bnsl(x, y, 1)
    assert fit.report.converged
    assert len(fit.law.breaks) == 1
    assert rel(fit.law.breaks[0]["d"], 100.0) < 1e-4
    assert rel(fit.law.c0, 0.2) < 1e-4
    assert np.allclose(fit.law.predict(x), y, rtol=1e-8)
