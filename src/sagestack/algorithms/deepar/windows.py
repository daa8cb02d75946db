"""Mini-batches of windows over laid-out series (:func:`model.lay_out`) as network inputs.

A window ending at padded position ``end`` (exclusive) and ``W`` steps long covers positions
``end-W .. end-1``; the network's output at a position predicts the target there from lags ≥ 1. Its
scale is ``1 + mean |z|`` over the observed values of the window's first ``context_length`` steps
(DeepAR's ν; 1 for the beta likelihood, whose targets are in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sagestack.algorithms.deepar.model import DeepARConfig, Laid
from sagestack.algorithms.deepar.network import age_feature


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, W, input_size)
    target: torch.Tensor  # (B, W), 0 where missing
    observed: torch.Tensor  # (B, W) 1.0 where the target is observed
    scale: torch.Tensor  # (B,)


def window_scale(config: DeepARConfig, context: np.ndarray) -> float:
    if config.likelihood == "beta":
        return 1.0
    observed = context[~np.isnan(context)]
    return 1.0 + float(np.abs(observed).mean()) if observed.size else 1.0


def make_batch(network, config: DeepARConfig, items: list[tuple[Laid, int]], W: int) -> Batch:
    lags = np.asarray(config.lags)
    lagged, targets, tfs, dyns, ages, cats, scales = [], [], [], [], [], [], []
    for laid, end in items:
        pos = np.arange(end - W, end)
        scale = window_scale(config, laid.target[end - W : end - W + config.context_length])
        lagged.append(laid.target[pos[:, None] - lags[None, :]] / scale)
        targets.append(laid.target[pos])
        tfs.append(laid.time_feat[pos])
        dyns.append(laid.dynamic[pos])
        ages.append(pos - config.pad)
        cats.append(laid.cat)
        scales.append(scale)
    lagged_t = torch.from_numpy(np.nan_to_num(np.stack(lagged), nan=0.0))
    target = np.stack(targets)
    scale_t = torch.tensor(scales, dtype=torch.float32)
    inputs = network.inputs(
        lagged_t,
        torch.from_numpy(np.stack(tfs)),
        age_feature(torch.from_numpy(np.stack(ages))),
        torch.from_numpy(np.stack(cats)).long(),
        torch.from_numpy(np.stack(dyns)),
        scale_t,
    )
    observed = ~np.isnan(target)
    return Batch(
        inputs=inputs,
        target=torch.from_numpy(np.where(observed, target, 0.0).astype(np.float32)),
        observed=torch.from_numpy(observed.astype(np.float32)),
        scale=scale_t,
    )
