"""Shared data for the tests: the real Chinchilla runs and the repository's scipy references."""

import json
from pathlib import Path

import numpy as np
import pytest

import scaling_laws as sl

# The repository's reference data (scipy/numpy scripts and their outputs, tests/reference/).
DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def reference(name):
    with open(DATA / name) as f:
        return json.load(f)


def columns(name):
    return np.loadtxt(DATA / name, delimiter=",", skiprows=1, unpack=True)


@pytest.fixture(scope="session")
def runs240():
    return sl.datasets.chinchilla_besiroglu_240()


@pytest.fixture(scope="session")
def fit240(runs240):
    return sl.fit_chinchilla(params=runs240["params"], tokens=runs240["tokens"], loss=runs240["loss"])
