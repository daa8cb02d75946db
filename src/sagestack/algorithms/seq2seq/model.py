"""A trained seq2seq model: network, vocabularies, and beam-search decoding.

Artifact (``model_dir``): ``seq2seq.json`` (the hyperparameters the network was built with and the
vocabulary sizes), ``seq2seq.pt`` (the torch ``state_dict``, loaded with ``weights_only=True``) and
copies of ``vocab.src.json`` / ``vocab.trg.json`` (token → id). SageMaker's own artifact is an MXNet
(Sockeye-like) checkpoint; it is not reproduced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from sagestack.algorithms.seq2seq.network import BOS, EOS, PAD, UNK, Seq2SeqNetwork

FORMAT_VERSION = "1.0"
CONFIG_FILE, WEIGHTS_FILE = "seq2seq.json", "seq2seq.pt"
VOCAB_SRC, VOCAB_TRG = "vocab.src.json", "vocab.trg.json"


@dataclass
class Seq2SeqModel:
    network: Seq2SeqNetwork
    hp: dict
    src_vocab: dict[str, int]
    trg_vocab: dict[str, int]

    def __post_init__(self):
        self.trg_words = {i: w for w, i in self.trg_vocab.items()}

    def encode_text(self, text: str) -> list[int]:
        ids = [self.src_vocab.get(token, UNK) for token in text.split()]
        return ids[: self.hp["max_seq_len_source"]]

    def decode_ids(self, ids: list[int]) -> str:
        return " ".join(self.trg_words.get(i, "<unk>") for i in ids if i not in (PAD, BOS, EOS))

    @torch.no_grad()
    def translate(
        self, source: list[int], beam_size: int | None = None
    ) -> tuple[list[int], list[list[float]]]:
        """Beam search: the best target ids (without BOS/EOS) and its attention matrix (target × source)."""
        self.network.eval()
        return beam_search(
            self.network, source, beam_size or self.hp["beam_size"], self.hp["max_seq_len_target"]
        )


def _select(state, index: torch.Tensor):
    if state is None:
        return None
    if isinstance(state, dict):
        return {k: _select(v, index) for k, v in state.items()}
    if isinstance(state, list):
        return [_select(s, index) for s in state]
    if isinstance(state, tuple):
        return tuple(_select(s, index) for s in state)
    return state.index_select(1 if state.dim() == 3 else 0, index)


def beam_search(network: Seq2SeqNetwork, source: list[int], beam: int, max_len: int):
    if not source:
        return [], []
    src = torch.tensor([source])
    memory, mask, state = network.encode(src)
    limit = min(max_len, 2 * len(source) + 10)
    hyps = [[BOS]]
    scores = torch.zeros(1)
    attns: list[list[list[float]]] = [[]]
    finished: list[tuple[float, list[int], list[list[float]]]] = []
    for _ in range(limit):
        n = len(hyps)
        prev = torch.tensor([h[-1] for h in hyps])
        prefix = torch.tensor(hyps)
        log_probs, state, weights = network.step(
            prev, state, memory.expand(n, -1, -1), mask.expand(n, -1), prefix
        )
        total = (scores.unsqueeze(1) + log_probs).view(-1)
        top = torch.topk(total, min(beam, total.numel()))
        vocab = log_probs.shape[1]
        new_hyps, new_scores, new_attns, keep = [], [], [], []
        for score, flat in zip(top.values.tolist(), top.indices.tolist()):
            origin, token = divmod(flat, vocab)
            seq = hyps[origin] + [token]
            attn = attns[origin] + [weights[origin].tolist()]
            if token == EOS:
                finished.append((score / (len(seq) - 1), seq, attn))
            else:
                new_hyps.append(seq)
                new_scores.append(score)
                new_attns.append(attn)
                keep.append(origin)
        if len(finished) >= beam or not new_hyps:
            break
        hyps, attns = new_hyps, new_attns
        scores = torch.tensor(new_scores)
        state = _select(state, torch.tensor(keep))
    if not finished:
        finished = [(s / max(1, len(h) - 1), h, a) for s, h, a in zip(scores.tolist(), hyps, attns)]
    _, best, attn = max(finished, key=lambda item: item[0])
    ids = [t for t in best[1:] if t != EOS]
    return ids, attn[: len(ids)]


def save_model(model_dir: Path, network: Seq2SeqNetwork, hp: dict, src_vocab: dict, trg_vocab: dict) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "hyperparameters": hp,
        "src_vocab_size": network.src_embed.num_embeddings,
        "trg_vocab_size": network.trg_embed.num_embeddings,
        "version": FORMAT_VERSION,
    }
    (model_dir / CONFIG_FILE).write_text(json.dumps(config))
    torch.save(network.state_dict(), model_dir / WEIGHTS_FILE)
    (model_dir / VOCAB_SRC).write_text(json.dumps(src_vocab))
    (model_dir / VOCAB_TRG).write_text(json.dumps(trg_vocab))


def load_model(model_dir: Path) -> Seq2SeqModel:
    torch.set_num_threads(1)  # one small network per worker: no thread oversubscription
    model_dir = Path(model_dir)
    config = json.loads((model_dir / CONFIG_FILE).read_text())
    hp = config["hyperparameters"]
    network = Seq2SeqNetwork(hp, config["src_vocab_size"], config["trg_vocab_size"])
    network.load_state_dict(torch.load(model_dir / WEIGHTS_FILE, weights_only=True))
    network.eval()
    src_vocab = json.loads((model_dir / VOCAB_SRC).read_text())
    trg_vocab = json.loads((model_dir / VOCAB_TRG).read_text())
    return Seq2SeqModel(network, hp, src_vocab, trg_vocab)
