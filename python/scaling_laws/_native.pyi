"""Type stubs of the Rust extension (re-exported by ``scaling_laws``).

Units: N parameters, D tokens, C FLOPs, loss in the units of the data (nats per token for
the shipped runs). Array arguments take numpy arrays, pandas Series, sequences or scalars;
one-dimensional. A scalar in gives a float out, an array in gives a numpy array out.
"""

from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import numpy.typing as npt

ArrayLike = Union[float, Sequence[float], npt.NDArray[np.float64], Any]
Column = Union[str, ArrayLike]  # an array, or the name of a column of `data`
Data = Optional[Any]  # a pandas DataFrame or a mapping of column name -> array
FloatOrArray = Union[float, npt.NDArray[np.float64]]
Progress = Union[None, bool, Callable[[int, int], Any]]
ObjectiveLike = Union[None, str, "Objective"]

__version__: str

_T = TypeVar("_T")

class _Result:
    def to_json(self) -> str: ...
    @classmethod
    def from_json(cls: type[_T], text: str) -> _T: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __reduce__(self) -> Tuple[Any, Tuple[str]]: ...
    def __eq__(self, other: object) -> bool: ...

class ScalingLawsError(ValueError):
    kind: str
    row: Optional[int]  # 1-based, as in the message
    index: Optional[int]  # 0-based position in the input arrays
    column: Optional[str]
    value: Union[None, float, str]

class InputError(ScalingLawsError): ...
class NoOptimumError(ScalingLawsError): ...
class NumericalError(ScalingLawsError): ...

class Objective:
    @staticmethod
    def huber(delta: float = 1e-3, space: str = "log", reduction: str = "sum") -> Objective: ...
    @staticmethod
    def squared(space: str = "log", reduction: str = "sum") -> Objective: ...
    @staticmethod
    def asymmetric(delta: float, over_weight: float, space: str = "log", reduction: str = "sum") -> Objective: ...

class FitReport(_Result):
    objective: float
    status: str  # "Converged", "IterationLimit" or "Infeasible"
    converged: bool
    iterations: int
    evaluations: int
    gradient_norm: float
    n_points: int
    n_starts: int
    best_start: int
    n_starts_at_best: int

class ChinchillaLaw(_Result):
    e: float
    a: float
    b: float
    alpha: float
    beta: float
    def __init__(self, e: float, a: float, b: float, alpha: float, beta: float) -> None: ...
    @staticmethod
    def hoffmann_2022() -> ChinchillaLaw: ...
    @staticmethod
    def hoffmann_2022_unrounded() -> ChinchillaLaw: ...
    @staticmethod
    def besiroglu_2024() -> ChinchillaLaw: ...
    def loss(self, params: ArrayLike, tokens: ArrayLike) -> FloatOrArray: ...
    def __call__(self, params: ArrayLike, tokens: ArrayLike) -> FloatOrArray: ...
    def allocation_exponents(self) -> Tuple[float, float]: ...
    def compute_optimal(self, flops: ArrayLike) -> dict[str, FloatOrArray]: ...
    def tokens_per_param(self, flops: ArrayLike) -> FloatOrArray: ...
    def optimal_loss(self, flops: ArrayLike) -> FloatOrArray: ...
    def flops_for_loss(self, loss: ArrayLike) -> FloatOrArray: ...
    def allocation_for_loss(self, loss: ArrayLike) -> dict[str, FloatOrArray]: ...
    def optimal_tokens(self, params: ArrayLike) -> FloatOrArray: ...
    def compute_overhead(self, params: ArrayLike, tokens: ArrayLike) -> FloatOrArray: ...

class ChinchillaFit(_Result):
    law: ChinchillaLaw
    objective: float
    report: FitReport
    likelihood: Optional[dict[str, float]]
    converged: bool
    def predict(self, params: ArrayLike, tokens: ArrayLike) -> FloatOrArray: ...

class PowerLaw(_Result):
    e: float
    a: float
    alpha: float
    def __init__(self, e: float, a: float, alpha: float) -> None: ...
    def predict(self, x: ArrayLike) -> FloatOrArray: ...
    def __call__(self, x: ArrayLike) -> FloatOrArray: ...
    def inverse(self, y: ArrayLike) -> FloatOrArray: ...

class PowerLawFit(_Result):
    law: PowerLaw
    report: FitReport
    objective: float

class SigmoidLaw(_Result):
    r0: float
    a: float
    b: float
    c_mid: float
    def __init__(self, r0: float, a: float, b: float, c_mid: float) -> None: ...
    def predict(self, c: ArrayLike) -> FloatOrArray: ...
    def __call__(self, c: ArrayLike) -> FloatOrArray: ...
    def inverse(self, r: ArrayLike) -> FloatOrArray: ...

class SigmoidFit(_Result):
    law: SigmoidLaw
    report: FitReport
    objective: float
    n_used: int
    n_dropped: int

class Bnsl(_Result):
    a: float
    b: float
    c0: float
    breaks: list[dict[str, float]]
    def predict(self, x: ArrayLike) -> FloatOrArray: ...
    def __call__(self, x: ArrayLike) -> FloatOrArray: ...
    def local_slope(self, x: ArrayLike) -> FloatOrArray: ...

class BnslFit(_Result):
    law: Bnsl
    report: FitReport
    objective: float

class Interval(_Result):
    estimate: float
    lower: float
    upper: float
    level: float
    width: float
    def contains(self, value: float) -> bool: ...

class Bootstrap(_Result):
    names: list[str]
    estimates: dict[str, float]
    intervals: dict[str, Interval]
    draws: npt.NDArray[np.float64]  # (successful resamples, quantities)
    n_failed: int
    n_not_converged: int
    def interval(self, name: str) -> Interval: ...
    def std_error(self, name: str) -> float: ...

class Schedule(_Result):
    lrs: npt.NDArray[np.float64]
    warmup_steps: int
    peak: float
    def __init__(self, lrs: ArrayLike) -> None: ...
    @staticmethod
    def constant(lr: float, steps: int) -> Schedule: ...
    @staticmethod
    def linear_warmup(peak: float, warmup_steps: int) -> Schedule: ...
    @staticmethod
    def cosine(peak: float, floor: float, steps: int) -> Schedule: ...
    @staticmethod
    def wsd(peak: float, floor: float, steps: int, decay_fraction: float, decay: str = "linear") -> Schedule: ...
    @staticmethod
    def step_decay(peak: float, steps: int, boundaries: Sequence[int], factor: float) -> Schedule: ...
    @staticmethod
    def inverse_sqrt(peak: float, warmup: int, steps: int) -> Schedule: ...
    @staticmethod
    def two_stage(lr1: float, steps1: int, lr2: float, steps2: int) -> Schedule: ...
    def with_warmup(self, warmup_steps: int) -> Schedule: ...
    def then(self, other: Schedule) -> Schedule: ...
    def cumulative_area(self) -> npt.NDArray[np.float64]: ...
    def __len__(self) -> int: ...

class LossCurve(_Result):
    schedule: Schedule
    steps: npt.NDArray[np.int64]
    loss: npt.NDArray[np.float64]
    def __init__(self, schedule: Schedule, steps: Sequence[int], loss: ArrayLike) -> None: ...
    def __len__(self) -> int: ...

class MultiPowerLaw(_Result):
    params: dict[str, float]
    def __init__(self, l0: float, a: float, alpha: float, b: float, c: float, beta: float, gamma: float) -> None: ...
    def predict(self, schedule: Schedule, steps: Optional[Sequence[int]] = None) -> npt.NDArray[np.float64]: ...
    def final_loss(self, schedule: Schedule) -> float: ...

class MultiPowerFit(_Result):
    law: MultiPowerLaw
    report: FitReport
    objective: float

class AnnealingLaw(_Result):
    params: dict[str, float]
    def __init__(self, l0: float, a: float, alpha: float, c: float, lambda_: float = 0.999) -> None: ...
    def predict(self, schedule: Schedule, steps: Optional[Sequence[int]] = None) -> npt.NDArray[np.float64]: ...
    def final_loss(self, schedule: Schedule) -> float: ...

class AnnealingFit(_Result):
    law: AnnealingLaw
    report: FitReport
    objective: float

class OptimizedSchedule(_Result):
    schedule: Schedule
    final_loss: float
    knots: npt.NDArray[np.float64]
    iterations: int
    status: str

class CostModel:
    @staticmethod
    def six_nd() -> CostModel: ...
    @staticmethod
    def six_nd_plus_attention(n_layer: float, n_ctx: float, d_model: float) -> CostModel: ...
    @staticmethod
    def training_plus_inference(inference_tokens: float) -> CostModel: ...
    @staticmethod
    def custom(name: str, func: Callable[[float, float], float]) -> CostModel: ...
    def cost(self, params: float, tokens: float) -> float: ...

def fit_chinchilla(
    data: Data = None,
    *,
    params: Optional[Column] = None,
    tokens: Optional[Column] = None,
    loss: Optional[Column] = None,
    flops: Optional[Column] = None,
    weights: Optional[Column] = None,
    starts: Union[None, str, Sequence[ChinchillaLaw]] = None,
    estimator: str = "minimum_objective",
    objective: ObjectiveLike = None,
    lower_envelope: Optional[float] = None,
    parallel: bool = True,
) -> ChinchillaFit: ...
def chinchilla_objective(
    law: Union[ChinchillaLaw, ChinchillaFit],
    data: Data = None,
    *,
    params: Optional[Column] = None,
    tokens: Optional[Column] = None,
    loss: Optional[Column] = None,
    flops: Optional[Column] = None,
    objective: ObjectiveLike = None,
) -> float: ...
def bootstrap(
    data: Data = None,
    *,
    params: Optional[Column] = None,
    tokens: Optional[Column] = None,
    loss: Optional[Column] = None,
    flops: Optional[Column] = None,
    budgets: Optional[ArrayLike] = None,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    progress: Progress = None,
    starts: Union[None, str, Sequence[ChinchillaLaw]] = None,
    estimator: str = "minimum_objective",
    objective: ObjectiveLike = None,
    lower_envelope: Optional[float] = None,
    parallel: bool = True,
) -> Bootstrap: ...
def allocate(
    law: Union[ChinchillaLaw, ChinchillaFit],
    budgets: ArrayLike,
    cost: Optional[CostModel] = None,
    *,
    params_range: Optional[Tuple[float, float]] = None,
    tokens_range: Optional[Tuple[float, float]] = None,
    grid_points: Optional[int] = None,
) -> dict[str, FloatOrArray]: ...
def cheapest_allocation(
    law: Union[ChinchillaLaw, ChinchillaFit],
    target_loss: ArrayLike,
    cost: Optional[CostModel] = None,
    *,
    params_range: Optional[Tuple[float, float]] = None,
    tokens_range: Optional[Tuple[float, float]] = None,
    grid_points: Optional[int] = None,
) -> dict[str, FloatOrArray]: ...
def fit_power_law(
    x: Optional[Column] = None,
    y: Optional[Column] = None,
    *,
    data: Data = None,
    weights: Optional[Column] = None,
    floor: Optional[float] = None,
    objective: ObjectiveLike = None,
) -> PowerLawFit: ...
def fit_sigmoid(
    compute: Optional[Column] = None,
    metric: Optional[Column] = None,
    *,
    data: Data = None,
    weights: Optional[Column] = None,
    r0: Optional[float] = None,
    metric_range: Optional[Tuple[float, float]] = None,
    min_compute: Optional[float] = None,
    objective: ObjectiveLike = None,
) -> SigmoidFit: ...
def fit_bnsl(
    x: Optional[Column] = None,
    y: Optional[Column] = None,
    n_breaks: int = 1,
    *,
    data: Data = None,
    weights: Optional[Column] = None,
    floor: Optional[float] = None,
    objective: ObjectiveLike = None,
) -> BnslFit: ...
def fit_multipower(
    curves: Union[LossCurve, Sequence[LossCurve], Mapping[str, LossCurve]],
    *,
    n_starts: Optional[int] = None,
    objective: ObjectiveLike = None,
) -> MultiPowerFit: ...
def fit_annealing(
    curves: Union[LossCurve, Sequence[LossCurve], Mapping[str, LossCurve]],
    *,
    lambda_: Union[None, str, float] = None,
    n_starts: Optional[int] = None,
    objective: ObjectiveLike = None,
) -> AnnealingFit: ...
def optimize_schedule(
    law: Union[MultiPowerLaw, MultiPowerFit],
    steps: int,
    peak: float,
    warmup: int,
    *,
    knots: int = 48,
    min_lr: float = 0.0,
) -> OptimizedSchedule: ...
