"""The attention encoder–decoder (Bahdanau et al. 2015; Sockeye's RNN and ConvS2S-style CNN models),
in torch, as seq2seq's hyperparameters shape it.

* RNN encoder: a bidirectional first layer (``rnn_num_hidden / 2`` per direction — why the size must
  be even) then unidirectional layers, residual from ``rnn_first_residual_layer`` when
  ``rnn_residual_connections``. CNN encoder: learned positions, ``num_layers_encoder`` convolutions of
  width ``cnn_kernel_width_encoder`` with ``cnn_activation_type`` (GLU by default) and residuals.
* Attention (``rnn_attention_type``): ``dot``, ``bilinear``, ``mlp`` (``rnn_attention_num_hidden``
  units) or ``fixed`` (the mean of the source states).
* RNN decoder: input feeding (previous attentional state joins the target embedding), state from
  the encoder's last or average state or zeros (``rnn_decoder_state_init``). CNN decoder: causal
  convolutions of width ``cnn_kernel_width_decoder``, each layer attending over the source.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def activation(name: str):
    return {
        "relu": F.relu,
        "softrelu": F.softplus,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
    }[name]


class ConvBlock(nn.Module):
    def __init__(self, hidden: int, width: int, act: str, dropout: float, causal: bool):
        super().__init__()
        self.glu = act == "glu"
        self.act = None if self.glu else activation(act)
        self.conv = nn.Conv1d(hidden, hidden * (2 if self.glu else 1), width)
        self.width, self.causal = width, causal
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, H)
        h = x.transpose(1, 2)
        if self.causal:
            h = F.pad(h, (self.width - 1, 0))
        else:
            left = (self.width - 1) // 2
            h = F.pad(h, (left, self.width - 1 - left))
        h = self.conv(self.dropout(h))
        h = F.glu(h, dim=1) if self.glu else self.act(h)
        return (h.transpose(1, 2) + x) * math.sqrt(0.5)


class Attention(nn.Module):
    def __init__(self, kind: str, query: int, memory: int, hidden: int):
        super().__init__()
        self.kind = kind
        if kind == "mlp":
            self.q = nn.Linear(query, hidden, bias=False)
            self.k = nn.Linear(memory, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)
        elif kind in ("dot", "bilinear"):
            self.q = nn.Linear(query, memory, bias=False)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor):
        """``query`` (B, Q), ``memory`` (B, S, M), ``mask`` (B, S) True at real tokens → (context, weights)."""
        if self.kind == "fixed":
            scores = torch.zeros(mask.shape, dtype=memory.dtype, device=memory.device)
        elif self.kind == "mlp":
            scores = self.v(torch.tanh(self.q(query).unsqueeze(1) + self.k(memory))).squeeze(-1)
        else:
            q = self.q(query)
            if self.kind == "dot":
                q = q / math.sqrt(memory.shape[-1])
            scores = torch.bmm(memory, q.unsqueeze(-1)).squeeze(-1)
        scores = scores.masked_fill(~mask, -1e9)
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


class Seq2SeqNetwork(nn.Module):
    def __init__(self, hp: dict, src_vocab: int, trg_vocab: int):
        super().__init__()
        self.hp = hp
        hidden = hp["rnn_num_hidden"]
        cell = nn.LSTM if hp["rnn_cell_type"] == "lstm" else nn.GRU
        self.lstm = hp["rnn_cell_type"] == "lstm"
        self.src_embed = nn.Embedding(src_vocab, hp["num_embed_source"], padding_idx=PAD)
        self.trg_embed = nn.Embedding(trg_vocab, hp["num_embed_target"], padding_idx=PAD)
        self.src_dropout = nn.Dropout(hp["embed_dropout_source"])
        self.trg_dropout = nn.Dropout(hp["embed_dropout_target"])
        max_len = max(hp["max_seq_len_source"], hp["max_seq_len_target"]) + 2
        # encoder
        if hp["encoder_type"] == "rnn":
            self.enc_first = cell(hp["num_embed_source"], hidden // 2, batch_first=True, bidirectional=True)
            self.enc_rest = nn.ModuleList(
                cell(hidden, hidden, batch_first=True) for _ in range(hp["num_layers_encoder"] - 1)
            )
        else:
            cnn = hp["cnn_num_hidden"]
            self.src_pos = nn.Embedding(max_len, hp["num_embed_source"])
            self.enc_in = nn.Linear(hp["num_embed_source"], cnn)
            self.enc_convs = nn.ModuleList(
                ConvBlock(
                    cnn,
                    hp["cnn_kernel_width_encoder"],
                    hp["cnn_activation_type"],
                    hp["cnn_hidden_dropout"],
                    False,
                )
                for _ in range(hp["num_layers_encoder"])
            )
            self.enc_out = nn.Linear(cnn, hidden)
        # decoder
        self.dec_layers = hp["num_layers_decoder"]
        if hp["decoder_type"] == "rnn":
            self.dec_cells = nn.ModuleList(
                cell(hp["num_embed_target"] + hidden if i == 0 else hidden, hidden, batch_first=True)
                for i in range(self.dec_layers)
            )
            self.init_proj = nn.Linear(hidden, hidden * self.dec_layers)
            self.attention = Attention(
                hp["rnn_attention_type"], hidden, hidden, hp["rnn_attention_num_hidden"]
            )
            self.combine = nn.Linear(2 * hidden, hidden)
            self.hidden_dropout = nn.Dropout(hp["rnn_decoder_hidden_dropout"])
            out_size = hidden
        else:
            cnn = hp["cnn_num_hidden"]
            self.trg_pos = nn.Embedding(max_len + hp["max_seq_len_target"] * 2 + 12, hp["num_embed_target"])
            self.dec_in = nn.Linear(hp["num_embed_target"], cnn)
            self.dec_convs = nn.ModuleList(
                ConvBlock(
                    cnn,
                    hp["cnn_kernel_width_decoder"],
                    hp["cnn_activation_type"],
                    hp["cnn_hidden_dropout"],
                    True,
                )
                for _ in range(self.dec_layers)
            )
            self.dec_attn = nn.ModuleList(Attention("dot", cnn, hidden, cnn) for _ in range(self.dec_layers))
            self.dec_ctx = nn.ModuleList(nn.Linear(hidden, cnn) for _ in range(self.dec_layers))
            out_size = cnn
        self.output = nn.Linear(out_size, trg_vocab)

    # -------------------------------------------------------------------------------------------
    def encode(self, src: torch.Tensor):
        """``src`` (B, S) → memory (B, S, H), mask (B, S), initial decoder state."""
        mask = src != PAD
        lengths = mask.sum(1).clamp(min=1)
        x = self.src_dropout(self.src_embed(src))
        if self.hp["encoder_type"] == "rnn":
            packed = nn.utils.rnn.pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            out, _ = self.enc_first(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
            for index, layer in enumerate(self.enc_rest, start=2):
                nxt, _ = layer(h)
                residual = (
                    self.hp["rnn_residual_connections"] and index >= self.hp["rnn_first_residual_layer"]
                )
                h = nxt + h if residual else nxt
        else:
            positions = torch.arange(src.shape[1]).clamp(max=self.src_pos.num_embeddings - 1)
            h = self.enc_in(x + self.src_pos(positions))
            for conv in self.enc_convs:
                h = conv(h) * mask.unsqueeze(-1)
            h = self.enc_out(h)
        h = h * mask.unsqueeze(-1)
        return h, mask, self._init_state(h, mask, lengths)

    def _init_state(self, memory, mask, lengths):
        if self.hp["decoder_type"] != "rnn":
            return None
        B, _, H = memory.shape
        mode = self.hp["rnn_decoder_state_init"]
        if mode == "zero":
            start = torch.zeros(self.dec_layers, B, H)
        else:
            if mode == "last":
                summary = memory[torch.arange(B), lengths - 1]
            else:
                summary = memory.sum(1) / lengths.unsqueeze(-1)
            start = torch.tanh(self.init_proj(summary)).view(B, self.dec_layers, H).transpose(0, 1)
        states = []
        for layer in range(self.dec_layers):
            h = start[layer].unsqueeze(0).contiguous()
            states.append((h, torch.zeros_like(h)) if self.lstm else h)
        return {"rnn": states, "feed": torch.zeros(B, H)}

    def step(self, prev: torch.Tensor, state, memory, mask, prefix: torch.Tensor):
        """One decoder step: ``prev`` (B,) previous tokens → log-probabilities (B, V), state, attention."""
        if self.hp["decoder_type"] != "rnn":
            logits, attn = self._cnn_decode(prefix, memory, mask)
            return torch.log_softmax(logits[:, -1], -1), state, attn[:, -1]
        x = torch.cat([self.trg_dropout(self.trg_embed(prev)), state["feed"]], dim=-1).unsqueeze(1)
        new_states = []
        for index, (cell, s) in enumerate(zip(self.dec_cells, state["rnn"]), start=1):
            out, s = cell(x, s)
            residual = (
                self.hp["rnn_residual_connections"]
                and index >= self.hp["rnn_first_residual_layer"]
                and index > 1
            )
            x = out + x if residual else out
            new_states.append(s)
        top = x.squeeze(1)
        context, weights = self.attention(top, memory, mask)
        feed = self.hidden_dropout(torch.tanh(self.combine(torch.cat([top, context], -1))))
        return torch.log_softmax(self.output(feed), -1), {"rnn": new_states, "feed": feed}, weights

    def _cnn_decode(self, prefix, memory, mask):
        positions = torch.arange(prefix.shape[1]).clamp(max=self.trg_pos.num_embeddings - 1)
        h = self.dec_in(self.trg_dropout(self.trg_embed(prefix)) + self.trg_pos(positions))
        attn = None
        for conv, att, ctx in zip(self.dec_convs, self.dec_attn, self.dec_ctx):
            h = conv(h)
            B, T, C = h.shape
            flat_q = h.reshape(B * T, C)
            mem = memory.repeat_interleave(T, dim=0)
            msk = mask.repeat_interleave(T, dim=0)
            context, weights = att(flat_q, mem, msk)
            h = (h + ctx(context).view(B, T, C)) * math.sqrt(0.5)
            attn = weights.view(B, T, -1)
        return self.output(h), attn

    def forward(self, src: torch.Tensor, trg_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for decoder inputs ``trg_in`` (starting with BOS)."""
        memory, mask, state = self.encode(src)
        if self.hp["decoder_type"] != "rnn":
            return torch.log_softmax(self._cnn_decode(trg_in, memory, mask)[0], -1)
        outputs = []
        for t in range(trg_in.shape[1]):
            log_probs, state, _ = self.step(trg_in[:, t], state, memory, mask, trg_in[:, : t + 1])
            outputs.append(log_probs)
        return torch.stack(outputs, 1)


def initialize(network: nn.Module, hp: dict) -> None:
    """MXNet-style initialisation: Xavier(uniform, factor_type, magnitude=weight_init_scale) or
    Uniform(weight_init_scale) on matrices, zeros on biases."""
    scale = hp["weight_init_scale"]
    for param in network.parameters():
        if param.dim() < 2:
            nn.init.zeros_(param)
            continue
        if hp["weight_init_type"] == "uniform":
            nn.init.uniform_(param, -scale, scale)
            continue
        fan_out = param.shape[0]
        fan_in = param[0].numel()
        factor = {"in": fan_in, "out": fan_out, "avg": (fan_in + fan_out) / 2.0}[hp["xavier_factor_type"]]
        bound = math.sqrt(scale / factor)
        nn.init.uniform_(param, -bound, bound)
