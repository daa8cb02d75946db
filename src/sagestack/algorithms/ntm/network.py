"""The neural topic model: a variational autoencoder over bag-of-words documents (NVDM / ProdLDA).

Encoder: ``log(1 + counts)`` → ``encoder_layers`` dense layers (``encoder_layers_activation``) →
Gaussian posterior ``(μ, log σ²)`` over ``num_topics`` logits. Topic weights ``θ = softmax(z)`` with
``z = μ + σ ε`` in training and ``z = μ`` at inference. Decoder: ``log softmax(θ B + b)`` over the
vocabulary (batch-normalised logits with ``batch_norm``). Loss per document: reconstruction
``-Σ_w c_w log p(w)`` plus ``KL(q(z|d) ‖ N(0, I))`` = ``total_loss``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

ACTIVATION_LAYERS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


class NTMNetwork(nn.Module):
    def __init__(
        self, vocab: int, num_topics: int, layers: tuple[int, ...], activation: str, batch_norm: bool
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        width = vocab
        for size in layers:
            blocks += [nn.Linear(width, size), ACTIVATION_LAYERS[activation]()]
            width = size
        self.encoder = nn.Sequential(*blocks)
        self.mu = nn.Linear(width, num_topics)
        self.logvar = nn.Linear(width, num_topics)
        self.decoder = nn.Linear(num_topics, vocab)
        self.norm = nn.BatchNorm1d(vocab, affine=False) if batch_norm else None

    def encode(self, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(torch.log1p(counts))
        return self.mu(hidden), self.logvar(hidden).clamp(-10.0, 10.0)

    def topic_weights(self, counts: torch.Tensor) -> torch.Tensor:
        mu, _ = self.encode(counts)
        return torch.softmax(mu, dim=1)

    def losses(self, counts: torch.Tensor, sample: bool = True) -> dict[str, Any]:
        """Per-document ``recons_loss``, ``kld`` and ``total_loss`` (tensors of shape ``(n,)``)."""
        mu, logvar = self.encode(counts)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        theta = torch.softmax(z, dim=1)
        logits = self.decoder(theta)
        if self.norm is not None:
            logits = self.norm(logits)
        recon = -(counts * torch.log_softmax(logits, dim=1)).sum(dim=1)
        kld = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
        return {"recons_loss": recon, "kld": kld, "total_loss": recon + kld}
