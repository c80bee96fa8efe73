"""Bad input raises a ValueError subclass naming the row, column and value; nothing crashes."""

import math
import threading

import numpy as np
import pytest

import scaling_laws as sl


def small_runs():
    r = sl.datasets.chinchilla_besiroglu_240()
    return {k: v[:40].copy() for k, v in r.items()}


def test_exception_hierarchy():
    assert issubclass(sl.ScalingLawsError, ValueError)
    for cls in (sl.InputError, sl.NoOptimumError, sl.NumericalError):
        assert issubclass(cls, sl.ScalingLawsError)


def test_nan_loss_names_row_column_and_value():
    r = small_runs()
    r["loss"][5] = np.nan
    with pytest.raises(sl.InputError) as info:
        sl.fit_chinchilla(params=r["params"], tokens=r["tokens"], loss=r["loss"])
    e = info.value
    assert isinstance(e, ValueError)
    assert (e.row, e.index, e.column, e.kind) == (6, 5, "loss", "NonFinite")
    assert math.isnan(e.value)
    assert "row 6" in str(e)


def test_dataframe_errors_use_the_callers_column_names():
    pd = pytest.importorskip("pandas")
    r = small_runs()
    df = pd.DataFrame({"N": r["params"], "D": r["tokens"], "L": r["loss"]})
    df.loc[7, "D"] = -1.0
    with pytest.raises(sl.InputError) as info:
        sl.fit_chinchilla(df, params="N", tokens="D", loss="L")
    e = info.value
    assert (e.row, e.column, e.value, e.kind) == (8, "D", -1.0, "OutOfDomain")
    assert str(e).startswith("D at row 8")
    with pytest.raises(sl.InputError) as info:
        sl.fit_chinchilla(df, params="N", tokens="tokens_missing", loss="L")
    assert info.value.column == "tokens_missing"


@pytest.mark.parametrize(
    "bad, column",
    [
        (dict(params=[1e8, 2e8], tokens=[1e10], loss=[3.0, 2.9]), None),  # lengths differ
        (dict(params=[], tokens=[], loss=[]), None),  # empty
        (dict(params=[[1e8, 2e8]], tokens=[[1e10, 1e10]], loss=[[3.0, 2.9]]), "params"),  # 2-D
        (dict(params=["a", "b"], tokens=[1e10, 1e10], loss=[3.0, 2.9]), "params"),  # strings
        (dict(params=[1e8, 2e8], loss=[3.0, 2.9]), "tokens"),  # no tokens or flops
        (dict(tokens=[1e10, 2e10], loss=[3.0, 2.9]), "params"),  # no params
        (dict(params=[1e8, 0.0], tokens=[1e10, 1e10], loss=[3.0, 2.9]), "params"),  # zero
        (dict(params=[1e8, 2e8], tokens=[1e10, np.inf], loss=[3.0, 2.9]), "tokens"),  # inf
        (dict(params=[1e8, 1e8, 1e8], tokens=[1e10] * 3, loss=[3.0] * 3), None),  # duplicates
        (dict(params=[1e8], tokens=[1e10], loss=[3.0]), None),  # a single run
        (dict(params=[1e300, 2e300], tokens=[1e300, 1e300], loss=[3.0, 2.9]), None),  # absurd sizes
    ],
)
def test_bad_runs_raise_value_errors(bad, column):
    with pytest.raises(ValueError) as info:
        sl.fit_chinchilla(**bad)
    assert isinstance(info.value, sl.ScalingLawsError)
    if column is not None:
        assert info.value.column == column


def test_bad_options_are_input_errors():
    r = small_runs()
    with pytest.raises(sl.InputError) as info:
        sl.fit_chinchilla(r, estimator="bayes")
    assert info.value.column == "estimator"
    with pytest.raises(sl.InputError):
        sl.fit_chinchilla(r, starts="everywhere")
    with pytest.raises(sl.InputError):
        sl.fit_chinchilla(r, objective="l1")
    with pytest.raises(sl.InputError):
        sl.Objective.huber(delta=-1.0)
    with pytest.raises(sl.InputError):
        sl.bootstrap(r, resamples=10, budgets=[1e24, -1.0])
    with pytest.raises(sl.InputError):
        sl.bootstrap(r, resamples=10, progress="yes")
    with pytest.raises(sl.InputError):
        sl.CostModel.six_nd_plus_attention(0, 2048, 4096)
    with pytest.raises(sl.InputError):
        sl.Schedule.wsd(3e-4, 0.0, 100, 0.2, decay="cubic")
    with pytest.raises(sl.InputError):
        sl.datasets.multipower_curves("7B")


def test_vectorised_errors_name_the_element():
    law = sl.ChinchillaLaw.besiroglu_2024()
    with pytest.raises(sl.InputError) as info:
        law.compute_optimal([1e21, np.nan, 1e23])
    assert info.value.row == 2
    # a target loss below the floor E has no allocation
    with pytest.raises(sl.ScalingLawsError) as info:
        law.flops_for_loss([2.0, 1.0])
    assert info.value.row == 2


def test_no_optimum_inside_the_domain():
    law = sl.ChinchillaLaw.besiroglu_2024()
    with pytest.raises(sl.NoOptimumError):
        sl.allocate(law, 1e30, params_range=(1e6, 1e8))


def test_one_variable_fits_name_their_columns():
    x = np.logspace(7, 10, 20)
    y = 1.7 + 400 * x**-0.34
    y[3] = -1.0
    with pytest.raises(sl.InputError) as info:
        sl.fit_power_law(x, y)
    assert (info.value.row, info.value.column) == (4, "y")
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"compute": x, "reward": np.full(20, 0.5)})
    df.loc[2, "compute"] = np.nan
    with pytest.raises(sl.InputError) as info:
        sl.fit_sigmoid("compute", "reward", data=df)
    assert info.value.column == "compute" and info.value.row == 3
    with pytest.raises(sl.InputError):
        sl.fit_bnsl([1.0, 2.0], [1.0, 0.5], 1)


def test_schedule_and_curve_errors():
    with pytest.raises(sl.InputError) as info:
        sl.Schedule([1e-3, np.nan, 1e-3])
    assert info.value.row == 2
    s = sl.Schedule.constant(1e-3, 100)
    with pytest.raises(sl.InputError) as info:
        sl.LossCurve(s, [10, 10], [4.0, 3.9])
    assert info.value.column == "steps"
    with pytest.raises(sl.InputError):
        sl.LossCurve(s, [10, 200], [4.0, 3.9])  # beyond the schedule
    with pytest.raises(sl.InputError):
        sl.LossCurve(s, [-1, 2], [4.0, 3.9])
    with pytest.raises(sl.InputError):
        sl.fit_multipower([s])  # not a LossCurve
    law = sl.MultiPowerLaw(2.8, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    with pytest.raises(sl.InputError):
        law.predict(s, [0, 500])
    with pytest.raises(sl.InputError):
        sl.optimize_schedule(law, 10, 3e-4, 100)


def test_json_garbage_is_an_input_error():
    with pytest.raises(sl.InputError):
        sl.ChinchillaFit.from_json("{not json")
    with pytest.raises(sl.InputError):
        sl.ChinchillaLaw.from_json('{"e": 1.0}')


def test_a_failing_progress_callback_raises_its_own_exception():
    r = small_runs()

    def boom(done, total):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        sl.bootstrap(r, resamples=4, progress=boom)


def test_the_gil_is_released_during_fits():
    r = sl.datasets.chinchilla_besiroglu_240()
    done = threading.Event()
    ticks = 0

    def work():
        sl.bootstrap(r, resamples=40, parallel=False)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1  # Python runs here only while the fit has released the GIL
    t.join()
    assert ticks > 1000


def test_an_exception_in_a_python_cost_is_raised():
    def cost(n, d):
        raise ZeroDivisionError("in my cost")

    with pytest.raises(ZeroDivisionError, match="in my cost"):
        sl.allocate(sl.ChinchillaLaw.besiroglu_2024(), 1e21, sl.CostModel.custom("bad", cost))
