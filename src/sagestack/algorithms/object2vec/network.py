"""Object2Vec's network: two encoders → comparator → MLP → softmax or regression output.

Encoders (``enc_dim`` outputs) over token-id sequences (padded, with a mask):

* ``pooled_embedding``: masked mean of the token embeddings, then a dense layer;
* ``hcnn``: ``layers`` 1-D convolutions of width ``cnn_filter_width`` (ReLU), masked max-pool over time;
* ``bilstm``: a ``layers``-deep bidirectional LSTM; the last states of both directions, concatenated
  and projected.

Comparator: the concatenation of the chosen operators on the two encodings (``hadamard`` e0 ⊙ e1,
``concat`` [e0, e1], ``abs_diff`` |e0 - e1|). MLP: ``mlp_layers`` dense layers of ``mlp_dim``
(``mlp_activation``, dropout), then ``num_classes`` logits (softmax) or one value (regression).
"""

from __future__ import annotations

import torch
from torch import nn

from sagestack.algorithms.object2vec.spec import EncoderParams, Object2VecParams


class Encoder(nn.Module):
    def __init__(self, spec: EncoderParams, enc_dim: int, embedding: nn.Embedding | None = None):
        super().__init__()
        self.network = spec.network
        self.embedding = embedding or nn.Embedding(spec.vocab_size, spec.token_embedding_dim)
        dim = spec.token_embedding_dim
        if spec.network == "pooled_embedding":
            self.project = nn.Linear(dim, enc_dim)
        elif spec.network == "hcnn":
            convs = []
            width = dim
            for _ in range(spec.layers):
                convs.append(
                    nn.Conv1d(width, enc_dim, spec.cnn_filter_width, padding=spec.cnn_filter_width // 2)
                )
                width = enc_dim
            self.convs = nn.ModuleList(convs)
        else:
            hidden = max(1, enc_dim // 2)
            self.lstm = nn.LSTM(dim, hidden, num_layers=spec.layers, batch_first=True, bidirectional=True)
            self.project = nn.Linear(2 * hidden, enc_dim)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(tokens.shape[1])[None, :] < lengths[:, None]).float()  # (n, T)
        x = self.embedding(tokens) * mask[:, :, None]
        if self.network == "pooled_embedding":
            pooled = x.sum(dim=1) / lengths.clamp(min=1)[:, None].float()
            return self.project(pooled)
        if self.network == "hcnn":
            h = x.transpose(1, 2)  # (n, dim, T)
            for conv in self.convs:
                h = torch.relu(conv(h))[:, :, : tokens.shape[1]]
            h = h.masked_fill(mask[:, None, :] == 0, float("-inf"))
            return h.max(dim=2).values
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return self.project(torch.cat([hidden[-2], hidden[-1]], dim=1))


ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "linear": nn.Identity}


class Object2VecNetwork(nn.Module):
    def __init__(self, params: Object2VecParams):
        super().__init__()
        self.comparators = params.comparators
        self.enc0 = Encoder(params.enc0, params.enc_dim)
        shared = self.enc0.embedding if params.tied_token_embedding_weight else None
        self.enc1 = Encoder(params.enc1, params.enc_dim, shared)
        width = params.enc_dim * sum(2 if c == "concat" else 1 for c in params.comparators)
        layers: list[nn.Module] = []
        for _ in range(params.mlp_layers):
            layers += [
                nn.Linear(width, params.mlp_dim),
                ACTIVATIONS[params.mlp_activation](),
                nn.Dropout(params.dropout),
            ]
            width = params.mlp_dim
        self.mlp = nn.Sequential(*layers)
        self.output = nn.Linear(width, 1 if params.regression else params.num_classes)

    def encode(self, which: int, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return (self.enc0 if which == 0 else self.enc1)(tokens, lengths)

    def forward(
        self, in0: tuple[torch.Tensor, torch.Tensor], in1: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        e0, e1 = self.enc0(*in0), self.enc1(*in1)
        parts = []
        for comparator in self.comparators:
            if comparator == "hadamard":
                parts.append(e0 * e1)
            elif comparator == "concat":
                parts += [e0, e1]
            else:
                parts.append((e0 - e1).abs())
        return self.output(self.mlp(torch.cat(parts, dim=1)))
