"""Bootstrap intervals with progress reporting, and the shipped datasets."""

import numpy as np
import pytest

import scaling_laws as sl


def test_bootstrap_is_seeded_and_the_progress_path_gives_the_same_intervals(runs240):
    calls = []
    with_cb = sl.bootstrap(runs240, resamples=20, seed=5, budgets=[1e24], progress=lambda d, t: calls.append((d, t)))
    plain = sl.bootstrap(runs240, resamples=20, seed=5, budgets=[1e24])
    serial = sl.bootstrap(runs240, resamples=20, seed=5, budgets=[1e24], parallel=False)
    assert with_cb == plain == serial  # the same draws on any number of threads, with or without progress
    assert sorted(d for d, _ in calls) == list(range(1, 21)) and {t for _, t in calls} == {20}
    assert plain.names == ["E", "A", "B", "alpha", "beta", "a", "b", "N_opt(1e24)", "D_opt(1e24)", "D/N(1e24)"]
    assert plain.draws.shape == (20, 10)
    for name, interval in plain.intervals.items():
        assert interval.lower <= interval.upper
    est = plain.estimates
    fit = sl.fit_chinchilla(runs240)
    assert est["alpha"] == fit.law.alpha
    assert est["N_opt(1e24)"] == fit.law.compute_optimal(1e24)["params"]
    assert plain.n_failed == 0
    assert plain.std_error("alpha") > 0
    with pytest.raises(KeyError):
        plain.interval("gamma")
    other = sl.bootstrap(runs240, resamples=20, seed=6, budgets=[1e24])
    assert other != plain


def test_tqdm_bar(runs240, capsys):
    pytest.importorskip("tqdm")
    b = sl.bootstrap(runs240, resamples=5, seed=1, progress=True)
    assert b.draws.shape[0] == 5
    assert "bootstrap" in capsys.readouterr().err


def test_datasets():
    h = sl.datasets.chinchilla_hoffmann_2022()
    b = sl.datasets.chinchilla_besiroglu_240()
    assert len(h["params"]) == 245 and len(b["loss"]) == 240
    # the replication drops the five highest losses
    assert np.isclose(np.sort(h["loss"])[:240], np.sort(b["loss"])).all()
    assert np.allclose(b["flops"], 6 * b["params"] * b["tokens"], rtol=1e-12)
    curves = sl.datasets.multipower_curves("25M")
    assert set(sl.datasets.multipower_curves("25M", training_only=True)) < set(curves)
    assert len(curves["cosine_24000"].schedule) == 24000
    s = sl.datasets.multipower_schedule("wsdcon_9")
    assert len(s) == 16000 and s.lrs[8000] == 9e-5
    assert len(sl.datasets.multipower_curves("100M")) > 0
