"""Fit neural scaling laws from numpy arrays or pandas DataFrames, in Rust.

The Python face of the Rust crate ``scaling-laws``: Chinchilla L(N, D) fits that reach the
optimum of Hoffmann et al.'s summed Huber objective in milliseconds, power laws, sigmoids,
broken power laws, multi-power and annealing loss-curve laws, compute-optimal allocation,
and bootstrap intervals. Every fit releases the GIL; every result has a readable ``repr``,
``to_dict()``, ``to_json()`` / ``from_json()`` and pickles.

    >>> import numpy as np, scaling_laws as sl
    >>> runs = sl.datasets.chinchilla_besiroglu_240()
    >>> fit = sl.fit_chinchilla(params=runs["params"], tokens=runs["tokens"], loss=runs["loss"])
    >>> round(fit.law.alpha, 3)
    0.347

Bad input raises :class:`InputError` (a ``ValueError``) with ``row``, ``column`` and
``value`` attributes.
"""

from . import _native
from ._native import (
    AnnealingFit,
    AnnealingLaw,
    Bnsl,
    BnslFit,
    Bootstrap,
    ChinchillaFit,
    ChinchillaLaw,
    CostModel,
    FitReport,
    InputError,
    Interval,
    LossCurve,
    MultiPowerFit,
    MultiPowerLaw,
    NoOptimumError,
    NumericalError,
    Objective,
    OptimizedSchedule,
    PowerLaw,
    PowerLawFit,
    Schedule,
    ScalingLawsError,
    SigmoidFit,
    SigmoidLaw,
    allocate,
    bootstrap,
    cheapest_allocation,
    chinchilla_objective,
    fit_annealing,
    fit_bnsl,
    fit_chinchilla,
    fit_multipower,
    fit_power_law,
    fit_sigmoid,
    optimize_schedule,
)
from . import datasets

__version__ = _native.__version__

__all__ = [
    "AnnealingFit",
    "AnnealingLaw",
    "Bnsl",
    "BnslFit",
    "Bootstrap",
    "ChinchillaFit",
    "ChinchillaLaw",
    "CostModel",
    "FitReport",
    "InputError",
    "Interval",
    "LossCurve",
    "MultiPowerFit",
    "MultiPowerLaw",
    "NoOptimumError",
    "NumericalError",
    "Objective",
    "OptimizedSchedule",
    "PowerLaw",
    "PowerLawFit",
    "Schedule",
    "ScalingLawsError",
    "SigmoidFit",
    "SigmoidLaw",
    "allocate",
    "bootstrap",
    "cheapest_allocation",
    "chinchilla_objective",
    "datasets",
    "fit_annealing",
    "fit_bnsl",
    "fit_chinchilla",
    "fit_multipower",
    "fit_power_law",
    "fit_sigmoid",
    "optimize_schedule",
]
