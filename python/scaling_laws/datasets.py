"""The real data shipped with the crate (compiled into the extension; nothing is downloaded).

- :func:`chinchilla_hoffmann_2022`: the 245 runs of Hoffmann et al. 2022 (Epoch's digitisation
  of their Fig. 4), tokens derived as D = C / (6N).
- :func:`chinchilla_besiroglu_240`: the 240 runs Besiroglu et al. 2024 fit (the five highest
  losses dropped).
- :func:`multipower_curves`: the multi-power paper's (Luo et al. 2025) loss curves of its 25M
  and 100M models, each on its exactly rebuilt learning-rate schedule.

Runs come back as a dict of numpy arrays ``{"params", "tokens", "flops", "loss"}``, or a pandas
DataFrame with ``as_frame=True``; either can be passed as ``data=`` to the fits.
"""

from . import _native


def _runs(d, as_frame):
    if as_frame:
        import pandas as pd

        return pd.DataFrame(d)
    return d


def chinchilla_hoffmann_2022(as_frame=False):
    """The 245 Chinchilla runs: N parameters, D tokens, C FLOPs, final loss (nats/token)."""
    return _runs(_native._chinchilla_hoffmann_2022(), as_frame)


def chinchilla_besiroglu_240(as_frame=False):
    """The 240 runs of Besiroglu et al. 2024's replication (the 5 highest losses dropped)."""
    return _runs(_native._chinchilla_besiroglu_240(), as_frame)


def multipower_curves(model="25M", training_only=False):
    """The multi-power paper's loss curves for ``model`` ("25M" or "100M").

    Returns a dict ``{schedule name: LossCurve}``; with ``training_only=True``, only the curves
    the paper fits on (the others are for prediction).
    """
    return {
        name: curve
        for name, is_training, curve in _native._multipower_curves(model)
        if is_training or not training_only
    }


def multipower_schedule(name):
    """The learning-rate schedule of a multi-power run (e.g. "cosine_24000", "wsd_20000_24000")."""
    return _native._multipower_schedule(name)


__all__ = [
    "chinchilla_besiroglu_240",
    "chinchilla_hoffmann_2022",
    "multipower_curves",
    "multipower_schedule",
]
