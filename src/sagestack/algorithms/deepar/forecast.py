"""Sample paths for the ``prediction_length`` steps after each series, and what is reported of them.

The network reads the last ``context_length`` values (teacher-forced), then samples one step at a
time from its likelihood, each sample fed back as the next step's lag; ``num_samples`` paths are drawn
side by side. Mean and quantiles are those of the samples (quantiles by linear interpolation).
"""

from __future__ import annotations

import numpy as np
import torch

from sagestack.algorithms.deepar.data import Series
from sagestack.algorithms.deepar.model import DeepARModel, lay_out
from sagestack.algorithms.deepar.network import age_feature, distribution
from sagestack.algorithms.deepar.windows import make_batch

SEED = 0


@torch.no_grad()
def sample_paths(model: DeepARModel, series: Series, num_samples: int, seed: int = SEED) -> np.ndarray:
    """``(num_samples, prediction_length)`` sample paths following ``series``."""
    config, network = model.config, model.network
    P, C = config.prediction_length, config.context_length
    laid = lay_out(config, series, future=P)
    end = config.pad + laid.length
    generator = torch.Generator().manual_seed(seed)
    conditioning = make_batch(network, config, [(laid, end)], C)
    _, state = network(conditioning.inputs)
    scale = conditioning.scale.repeat(num_samples)  # (S,)
    state = tuple(s.repeat_interleave(num_samples, dim=1) for s in state)
    buffer = np.tile(laid.target, (num_samples, 1))
    lags = np.asarray(config.lags)
    cat = torch.from_numpy(laid.cat).long().unsqueeze(0).expand(num_samples, -1)
    for step in range(P):
        pos = end + step
        lagged = torch.from_numpy(np.nan_to_num(buffer[:, pos - lags], nan=0.0)) / scale.view(-1, 1)
        x = network.inputs(
            lagged.unsqueeze(1).float(),
            torch.from_numpy(laid.time_feat[pos]).view(1, 1, -1).expand(num_samples, 1, -1),
            age_feature(torch.full((num_samples, 1), pos - config.pad)),
            cat,
            torch.from_numpy(laid.dynamic[pos]).view(1, 1, -1).expand(num_samples, 1, -1),
            scale,
        )
        raw, state = network(x, state)
        dist = distribution(config.likelihood, raw[:, 0], scale)
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        buffer[:, pos] = dist.sample().float().numpy()
    return buffer[:, end : end + P].astype(np.float32)


def summarize(samples: np.ndarray, output_types: list[str], quantiles: list[str]) -> dict:
    """``{"mean": [...], "quantiles": {"0.5": [...]}, "samples": [[...]]}`` with what was asked."""
    result: dict = {}
    for kind in output_types:
        if kind == "mean":
            result["mean"] = samples.mean(axis=0).astype(float).tolist()
        elif kind == "quantiles":
            result["quantiles"] = {
                key: np.quantile(samples, float(key), axis=0).astype(float).tolist() for key in quantiles
            }
        elif kind == "samples":
            result["samples"] = samples.astype(float).tolist()
    return result
