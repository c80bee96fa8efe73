"""Shared helpers for the reference scripts (pure numpy/scipy, no crate code)."""
import json
import os
import platform

import numpy as np
import scipy

HUBER_DELTA = 1e-3

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = os.path.join(REPO_ROOT, "tests", "data")


def huber(r, delta=HUBER_DELTA):
    """Huber_delta(r) = r^2/2 if |r| <= delta else delta(|r| - delta/2)."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_grad(r, delta=HUBER_DELTA):
    """d Huber / d r = r if |r| <= delta else delta*sign(r)."""
    return np.clip(r, -delta, delta)


def versions():
    return {
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
    }


def write_json(name, obj):
    os.makedirs(DATA_DIR, exist_ok=True)
    path = os.path.join(DATA_DIR, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    return path


def fmt(x):
    """Round-trippable float formatting for CSV."""
    return repr(float(x))
