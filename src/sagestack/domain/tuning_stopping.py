"""Which running children of a tuning job to stop early, from their objective metric's emissions so far
(one emission = one "epoch"; a series is the values in the order the child printed them).

* ``TrainingJobEarlyStoppingType=Auto``, the median stopping rule SageMaker documents: a child whose
  latest value is worse than the median, over the other children that got as far, of their running
  averages up to the same epoch is stopped (only once at least 3 other children reached that epoch);
* ``Hyperband``, asynchronous successive halving (reduction factor 3): rungs at ``MinResource · 3^k``
  epochs; a child at a rung continues only while its value there is within the best third of the values
  every child recorded at that rung; a child that reaches ``MaxResource`` epochs is done (stopped).

Pure functions: the reconciler reads the series and stops what these return.
"""

from __future__ import annotations

import statistics

import numpy as np

REDUCTION = 3
MIN_REFERENCES = 3


def _worse(value: float, reference: float, maximize: bool) -> bool:
    return value < reference if maximize else value > reference


def median_rule(running: dict[str, list[float]], others: dict[str, list[float]], maximize: bool) -> list[str]:
    """Running children (name → series) to stop under the median stopping rule; ``others``: every child's
    series (running ones included)."""
    stop = []
    for name, series in running.items():
        epoch = len(series)
        if epoch == 0:
            continue
        references = [
            float(np.mean(s[:epoch])) for other, s in others.items() if other != name and len(s) >= epoch
        ]
        if len(references) < MIN_REFERENCES:
            continue
        if _worse(series[-1], statistics.median(references), maximize):
            stop.append(name)
    return stop


def rungs(min_resource: int, max_resource: int) -> list[int]:
    out, rung = [], max(1, min_resource)
    while rung < max_resource:
        out.append(rung)
        rung *= REDUCTION
    return out


def hyperband(
    running: dict[str, list[float]],
    others: dict[str, list[float]],
    maximize: bool,
    min_resource: int,
    max_resource: int,
) -> list[str]:
    """Running children to stop under asynchronous successive halving."""
    levels = rungs(min_resource, max_resource)
    stop = []
    for name, series in running.items():
        epochs = len(series)
        if epochs >= max_resource:
            stop.append(name)  # it has had all the resource it may have
            continue
        passed = [r for r in levels if r <= epochs]
        if not passed:
            continue  # never stopped before MinResource
        rung = passed[-1]
        recorded = [s[rung - 1] for s in others.values() if len(s) >= rung]
        if len(recorded) < REDUCTION:
            continue
        quantile = (1 - 1 / REDUCTION) * 100 if maximize else 100 / REDUCTION
        cutoff = float(np.percentile(recorded, quantile))
        if _worse(series[rung - 1], cutoff, maximize):
            stop.append(name)
    return stop
