"""A tuning job's search space and its strategies: which hyperparameter values the next child gets.

* the space: ``ParameterRanges`` parsed and checked the way SageMaker checks them (:func:`parse_ranges`);
* ``Random``: every child draws each value independently, from a generator seeded by ``(RandomSeed,
  child index)`` — the same seed gives the same children whatever order they finish in;
* ``Grid``: the Cartesian product of the categorical values, in (range order, value order), one child each;
* ``Bayesian``: optuna's TPE sampler, told every finished child's values and objective (and, with a
  constant liar, the children still running) before it proposes the next;
* ``Hyperband``: configurations are drawn as for ``Random``; the reconciler stops children at the rungs.

Values are written the way SageMaker writes a child's hyperparameters: integers as plain decimals,
continuous values as the shortest round-trip float (``"0.0123"``, ``"1e-05"``), categorical values as given.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..protocol.errors import ServiceError

KINDS = (
    ("IntegerParameterRanges", "Integer"),
    ("ContinuousParameterRanges", "Continuous"),
    ("CategoricalParameterRanges", "Categorical"),
)
MAX_TUNED = 30


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "Integer" | "Continuous" | "Categorical"
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"  # resolved: "Linear" | "Logarithmic" | "ReverseLogarithmic"
    values: tuple[str, ...] = ()

    def format(self, value) -> str:
        if self.kind == "Integer":
            return str(int(value))
        if self.kind == "Continuous":
            return repr(float(value))
        return str(value)


def _number(name: str, which: str, raw: str, integer: bool) -> float:
    try:
        value = int(raw) if integer else float(raw)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise _invalid(f"The {which} value '{raw}' for hyperparameter {name} must be {kind}.") from None
    if not integer and not math.isfinite(value):
        raise _invalid(f"The {which} value '{raw}' for hyperparameter {name} must be a finite number.")
    return value


def parse_ranges(ranges: dict | None, strategy: str) -> list[Param]:
    """The tuned hyperparameters, checked (ValidationException with SageMaker's reasons)."""
    params: list[Param] = []
    seen: set[str] = set()
    for key, kind in KINDS:
        for item in (ranges or {}).get(key) or []:
            name = item["Name"]
            if name in seen:
                raise _invalid(f"The hyperparameter {name} is specified more than once in ParameterRanges.")
            seen.add(name)
            if kind == "Categorical":
                values = tuple(item["Values"])
                if len(set(values)) != len(values):
                    raise _invalid(f"The values of categorical hyperparameter {name} must be unique.")
                params.append(Param(name, kind, values=values))
                continue
            if strategy == "Grid":
                raise _invalid(
                    f"The Grid search strategy supports only categorical hyperparameters; {name} is "
                    f"an {kind.lower()} range. Use CategoricalParameterRanges or another strategy."
                )
            integer = kind == "Integer"
            low = _number(name, "MinValue", item["MinValue"], integer)
            high = _number(name, "MaxValue", item["MaxValue"], integer)
            if low > high:
                raise _invalid(
                    f"The MinValue ({item['MinValue']}) of hyperparameter {name} must be less than or "
                    f"equal to its MaxValue ({item['MaxValue']})."
                )
            scaling = item.get("ScalingType") or "Auto"
            if scaling == "Logarithmic" and low <= 0:
                raise _invalid(
                    f"Logarithmic scaling works only for ranges that have values greater than 0; "
                    f"hyperparameter {name} has MinValue {item['MinValue']}."
                )
            if scaling == "ReverseLogarithmic":
                if integer:
                    raise _invalid(
                        f"ReverseLogarithmic scaling is supported only for continuous "
                        f"hyperparameters; {name} is an integer range."
                    )
                if low < 0 or high >= 1:
                    raise _invalid(
                        f"ReverseLogarithmic scaling works only for ranges that are entirely within "
                        f"0 <= x < 1.0; hyperparameter {name} has range [{item['MinValue']}, "
                        f"{item['MaxValue']}]."
                    )
            if scaling == "Auto":  # SageMaker chooses; a wide positive range is searched in log space
                scaling = "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
            params.append(Param(name, kind, low, high, scaling))
    if len(params) > MAX_TUNED:
        raise _invalid(
            f"A tuning job can tune at most {MAX_TUNED} hyperparameters; {len(params)} were given."
        )
    return params


def grid_size(params: list[Param]) -> int:
    return math.prod(len(p.values) for p in params) if params else 0


def grid_point(params: list[Param], index: int) -> dict[str, str]:
    """The ``index``-th (0-based) combination of the grid."""
    combination = next(itertools.islice(itertools.product(*(p.values for p in params)), index, None))
    return {p.name: value for p, value in zip(params, combination, strict=True)}


def _draw(param: Param, rng: np.random.Generator):
    if param.kind == "Categorical":
        return param.values[int(rng.integers(len(param.values)))]
    low, high = param.low, param.high
    if param.scaling == "Logarithmic":
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    elif param.scaling == "ReverseLogarithmic":
        value = 1.0 - math.exp(rng.uniform(math.log(1.0 - high), math.log(1.0 - low)))
    else:
        value = rng.uniform(low, high + (1 if param.kind == "Integer" else 0))
        if param.kind == "Integer":
            value = math.floor(value)
    if param.kind == "Integer":
        return int(min(high, max(low, round(value))))
    return min(high, max(low, value))


def random_point(params: list[Param], seed: int, index: int) -> dict[str, str]:
    """Child ``index``'s values under Random search (reproducible by ``seed``)."""
    rng = np.random.default_rng([seed, index])
    return {p.name: p.format(_draw(p, rng)) for p in params}


# -- Bayesian (optuna) --------------------------------------------------------------------------


def _distribution(param: Param):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if param.kind == "Categorical":
        return CategoricalDistribution(list(param.values))
    if param.kind == "Integer":
        return IntDistribution(int(param.low), int(param.high), log=param.scaling == "Logarithmic")
    if param.scaling == "ReverseLogarithmic":  # searched as 1 - x, log-uniformly
        return FloatDistribution(1.0 - param.high, 1.0 - param.low, log=True)
    return FloatDistribution(param.low, param.high, log=param.scaling == "Logarithmic")


def _internal(param: Param, value: str):
    """A child's value as optuna's distribution holds it (None when it is outside the space)."""
    try:
        if param.kind == "Categorical":
            return value if value in param.values else None
        number = int(float(value)) if param.kind == "Integer" else float(value)
    except ValueError:
        return None
    if not param.low <= number <= param.high:
        return None
    return 1.0 - number if param.scaling == "ReverseLogarithmic" else number


def _external(param: Param, value) -> str:
    if param.scaling == "ReverseLogarithmic":
        value = 1.0 - float(value)
    return param.format(value)


def bayesian_point(
    params: list[Param],
    seed: int,
    index: int,
    maximize: bool,
    max_jobs: int,
    finished: list[tuple[dict[str, str], float | None]],
    running: list[dict[str, str]],
) -> dict[str, str]:
    """The next child's values: optuna's TPE sampler over the children so far. ``finished``: (tuned
    values, objective or None when the child reported none); ``running``: values of children still
    running (told as pending, so parallel children spread out)."""
    import warnings

    import optuna
    from optuna.trial import TrialState, create_trial

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {p.name: _distribution(p) for p in params}
    startup = min(10, max(2, max_jobs // 4))
    sampler = optuna.samplers.TPESampler(
        seed=(seed * 100003 + index) % (2**32),
        n_startup_trials=startup,
        constant_liar=True,
        multivariate=True,
    )
    study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)

    def internal(values: dict[str, str]) -> dict | None:
        out = {}
        for p in params:
            value = _internal(p, values.get(p.name, ""))
            if value is None:
                return None
            out[p.name] = value
        return out

    for values, objective in finished:
        point = internal(values)
        if point is None:
            continue
        state = TrialState.COMPLETE if objective is not None else TrialState.FAIL
        study.add_trial(
            create_trial(
                params=point,
                distributions=distributions,
                state=state,
                value=objective if objective is not None else None,
            )
        )
    for values in running:
        point = internal(values)
        if point is not None:
            study.add_trial(create_trial(params=point, distributions=distributions, state=TrialState.RUNNING))
    trial = study.ask(distributions)
    return {p.name: _external(p, trial.params[p.name]) for p in params}
