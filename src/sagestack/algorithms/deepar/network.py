"""The DeepAR network (Salinas et al. 2019) in torch: an LSTM over lagged, scaled targets, calendar
features, the series' age, ``cat`` embeddings and ``dynamic_feat``, projected to the parameters of
the likelihood (``torch.distributions``) of the next value.

Likelihoods: ``gaussian`` (Normal), ``student-T`` (StudentT, df > 2), ``negative-binomial``
(NegativeBinomial with mean μ and shape α, scaled as GluonTS does: μ·s, α/√s), ``beta`` (Beta; targets
in [0, 1], not scaled) and ``deterministic-L1`` (a point forecast trained with absolute error).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Beta, NegativeBinomial, Normal, StudentT
from torch.nn.functional import softplus

ARGS = {"gaussian": 2, "student-T": 3, "negative-binomial": 2, "beta": 2, "deterministic-L1": 1}
EPS = 1e-6


class Point:
    """``deterministic-L1``: the forecast is ``loc``; the training loss is the absolute error."""

    def __init__(self, loc: torch.Tensor):
        self.loc = loc

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return -(value - self.loc).abs()

    def sample(self) -> torch.Tensor:
        return self.loc

    @property
    def mean(self) -> torch.Tensor:
        return self.loc


def distribution(likelihood: str, raw: torch.Tensor, scale: torch.Tensor):
    """The likelihood of the next values; ``raw``: (..., ARGS) projections; ``scale``: (..., )."""
    if likelihood == "gaussian":
        return Normal(raw[..., 0] * scale, (softplus(raw[..., 1]) + EPS) * scale, validate_args=False)
    if likelihood == "student-T":
        return StudentT(
            2.0 + softplus(raw[..., 0]),
            raw[..., 1] * scale,
            (softplus(raw[..., 2]) + EPS) * scale,
            validate_args=False,
        )
    if likelihood == "negative-binomial":
        mu = (softplus(raw[..., 0]) + EPS) * scale
        alpha = (softplus(raw[..., 1]) + EPS) / torch.sqrt(scale)
        return NegativeBinomial(total_count=1.0 / alpha, logits=torch.log(mu * alpha), validate_args=False)
    if likelihood == "beta":
        return Beta(softplus(raw[..., 0]) + EPS, softplus(raw[..., 1]) + EPS, validate_args=False)
    return Point(raw[..., 0] * scale)


def prepare_target(likelihood: str, value: torch.Tensor) -> torch.Tensor:
    """Observed values as the likelihood accepts them (Beta needs the open interval)."""
    if likelihood == "beta":
        return value.clamp(1e-4, 1 - 1e-4)
    return value


class DeepARNetwork(nn.Module):
    def __init__(
        self,
        *,
        num_lags: int,
        num_time_features: int,
        cardinality: list[int],
        embedding_dimension: int,
        num_dynamic_feat: int,
        num_cells: int,
        num_layers: int,
        dropout_rate: float,
        likelihood: str,
    ):
        super().__init__()
        self.likelihood = likelihood
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_dimension) for c in cardinality)
        input_size = (
            num_lags + num_time_features + 1 + len(cardinality) * embedding_dimension + num_dynamic_feat + 1
        )
        self.rnn = nn.LSTM(
            input_size,
            num_cells,
            num_layers,
            batch_first=True,
            dropout=dropout_rate if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout_rate)
        self.project = nn.Linear(num_cells, ARGS[likelihood])

    def inputs(
        self,
        lagged: torch.Tensor,  # (B, T, L) scaled lagged targets (0 where missing)
        time_feat: torch.Tensor,  # (B, T, F)
        age: torch.Tensor,  # (B, T)
        cat: torch.Tensor,  # (B, C) long
        dynamic: torch.Tensor,  # (B, T, D)
        scale: torch.Tensor,  # (B,)
    ) -> torch.Tensor:
        steps = lagged.shape[1]
        parts = [lagged, time_feat, age.unsqueeze(-1)]
        for index, embedding in enumerate(self.embeddings):
            parts.append(embedding(cat[:, index]).unsqueeze(1).expand(-1, steps, -1))
        parts.append(dynamic)
        parts.append(torch.log(scale).view(-1, 1, 1).expand(-1, steps, 1))
        return torch.cat(parts, dim=-1)

    def forward(self, x: torch.Tensor, state=None):
        out, state = self.rnn(x, state)
        return self.project(self.dropout(out)), state


def age_feature(positions: torch.Tensor) -> torch.Tensor:
    """The series' age at each position (0 at its first value), log-scaled as DeepAR does."""
    return torch.log10(2.0 + positions.clamp(min=0).float()) / math.log10(2.0 + 1e4)
