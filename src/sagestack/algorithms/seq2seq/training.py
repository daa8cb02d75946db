"""``train(env)`` for seq2seq: teacher-forced cross-entropy over the train pairs, checkpoints every
``checkpoint_frequency_num_batches`` batches (and at the end) scored on the validation pairs.

The best checkpoint by ``optimized_metric`` is kept; training ends after ``max_num_epochs`` epochs or
``max_num_batches`` batches, or — once ``min_num_epochs`` have run — when ``checkpoint_threshold``
checkpoints pass without improvement. ``plateau_reduce`` multiplies the learning rate by
``plateau_reduce_lr_factor`` after ``plateau_reduce_lr_threshold`` checkpoints without improvement;
``fixed_rate_inv_t`` / ``fixed_rate_inv_sqrt_t`` decay it with ``fixed_rate_lr_half_life`` checkpoints.
Batches group pairs of similar source length (``bucketing_enabled``, ``bucket_width``).
"""

from __future__ import annotations

import copy
import json
import math
import time

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv
from sagestack.algorithms.common import configure, log
from sagestack.algorithms.file_channels import refuse_pipe_mode
from sagestack.algorithms.seq2seq import records
from sagestack.algorithms.seq2seq.metrics import corpus_bleu
from sagestack.algorithms.seq2seq.model import VOCAB_SRC, VOCAB_TRG, Seq2SeqModel, save_model
from sagestack.algorithms.seq2seq.network import BOS, EOS, PAD, Seq2SeqNetwork, initialize
from sagestack.algorithms.seq2seq.spec import SPEC, parse_hyperparameters
from sagestack.formats.dataset import files_in

SEED = 7
MAX_THREADS = 1  # small recurrent networks: one thread is fastest, and fair to shared hosts
HIGHER_IS_BETTER = {"perplexity": False, "accuracy": True, "bleu": True}


def read_vocab(env: TrainingEnv) -> tuple[dict[str, int], dict[str, int]]:
    folder = env.channels["vocab"].path
    vocabs = []
    for name in (VOCAB_SRC, VOCAB_TRG):
        matches = [p for p in files_in(folder) if p.name == name]
        if not matches:
            raise AlgorithmClientError(
                f"The vocab channel must hold {VOCAB_SRC} and {VOCAB_TRG}; {name} is missing"
            )
        try:
            vocab = json.loads(matches[0].read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AlgorithmClientError(f"{name} is not valid JSON: {exc}") from None
        if not isinstance(vocab, dict) or not all(isinstance(v, int) and v >= 0 for v in vocab.values()):
            raise AlgorithmClientError(
                f"{name} must be a JSON object mapping tokens to non-negative integer ids"
            )
        vocabs.append(vocab)
    return vocabs[0], vocabs[1]


def read_pairs(
    env: TrainingEnv, name: str, hp: dict, sizes: tuple[int, int]
) -> list[tuple[list[int], list[int]]]:
    pairs = []
    for path in files_in(env.channels[name].path):
        try:
            items = records.read(path.read_bytes())
        except records.RecordError as exc:
            raise AlgorithmClientError(
                f"Channel {name!r}, {path.name}: not RecordIO-protobuf ({exc})"
            ) from None
        for number, features in enumerate(items, 1):
            if "source" not in features or "target" not in features:
                raise AlgorithmClientError(
                    f"Channel {name!r}, {path.name} record {number}: needs features 'source' and 'target' "
                    f"(Int32Tensor token ids)"
                )
            src = features["source"][: hp["max_seq_len_source"]]
            trg = [t for t in features["target"] if t != EOS][: hp["max_seq_len_target"]]
            for ids, size, side in ((src, sizes[0], "source"), (trg, sizes[1], "target")):
                if any(i < 0 or i >= size for i in ids):
                    raise AlgorithmClientError(
                        f"Channel {name!r}, {path.name} record {number}: a {side} id is outside the {side} "
                        f"vocabulary (size {size})"
                    )
            if src and trg:
                pairs.append((src, trg))
    if not pairs:
        raise AlgorithmClientError(f"Channel {name!r} holds no source/target pairs")
    return pairs


def make_batches(pairs, hp: dict, rng: np.random.Generator | None):
    order = np.arange(len(pairs)) if rng is None else rng.permutation(len(pairs))
    if hp["bucketing_enabled"]:
        width = hp["bucket_width"]
        order = sorted(order, key=lambda i: len(pairs[i][0]) // width)
    size = hp["batch_size"]
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(chunks)
    for chunk in chunks:
        yield _tensors([pairs[i] for i in chunk])


def _tensors(batch):
    import torch

    S = max(len(s) for s, _ in batch)
    T = max(len(t) for _, t in batch) + 1
    src = torch.full((len(batch), S), PAD, dtype=torch.long)
    trg_in = torch.full((len(batch), T), PAD, dtype=torch.long)
    trg_out = torch.full((len(batch), T), PAD, dtype=torch.long)
    for row, (s, t) in enumerate(batch):
        src[row, : len(s)] = torch.tensor(s)
        trg_in[row, : len(t) + 1] = torch.tensor([BOS, *t])
        trg_out[row, : len(t) + 1] = torch.tensor([*t, EOS])
    return src, trg_in, trg_out


def evaluate(network, pairs, hp: dict, with_bleu: bool, model: Seq2SeqModel | None) -> dict[str, float]:
    import torch

    network.eval()
    nll = correct = tokens = 0.0
    with torch.no_grad():
        for src, trg_in, trg_out in make_batches(pairs, hp, None):
            log_probs = network(src, trg_in)
            mask = trg_out != PAD
            picked = log_probs.gather(-1, trg_out.unsqueeze(-1)).squeeze(-1)
            nll -= float(picked[mask].sum())
            correct += float((log_probs.argmax(-1) == trg_out)[mask].sum())
            tokens += float(mask.sum())
    result = {
        "perplexity": math.exp(min(nll / max(tokens, 1.0), 50.0)),
        "accuracy": correct / max(tokens, 1.0),
    }
    if with_bleu and model is not None:
        sample = pairs if hp["bleu_sample_size"] in (-1, 0) else pairs[: hp["bleu_sample_size"]]
        hyps = [model.translate(src)[0] for src, _ in sample]
        result["bleu"] = corpus_bleu(hyps, [trg for _, trg in sample])
    network.train()
    return result


def _optimizer(network, hp: dict):
    import torch

    params = network.parameters()
    if hp["optimizer_type"] == "sgd":
        return torch.optim.SGD(
            params, lr=hp["learning_rate"], momentum=hp["momentum"] or 0.0, weight_decay=hp["weight_decay"]
        )
    if hp["optimizer_type"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=hp["learning_rate"], weight_decay=hp["weight_decay"])
    return torch.optim.Adam(params, lr=hp["learning_rate"], weight_decay=hp["weight_decay"])


def train(env: TrainingEnv) -> None:
    import torch

    params = configure(SPEC, env, parse_hyperparameters, lambda p: p.values)
    refuse_pipe_mode(env, SPEC.name)
    hp = params.values
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, min(MAX_THREADS, env.num_cpus)))
    src_vocab, trg_vocab = read_vocab(env)
    sizes = (max(src_vocab.values(), default=3) + 1, max(trg_vocab.values(), default=3) + 1)
    sizes = (max(sizes[0], 4), max(sizes[1], 4))
    train_pairs = read_pairs(env, "train", hp, sizes)
    valid_pairs = read_pairs(env, "validation", hp, sizes)
    log(f"{len(train_pairs)} training pairs, {len(valid_pairs)} validation pairs; vocabulary sizes {sizes}")
    network = Seq2SeqNetwork(hp, *sizes)
    initialize(network, hp)
    network.train()
    optimizer = _optimizer(network, hp)
    metric = hp["optimized_metric"]
    higher = HIGHER_IS_BETTER[metric]
    with_bleu = metric == "bleu" or hp["bleu_sample_size"] != 0
    rng = np.random.default_rng(SEED)
    best_value, best_state, best_scores = None, None, None
    stale = lr_stale = checkpoints = batches = epoch = 0
    host = env.current_host
    started = time.time()

    def checkpoint() -> bool:
        """Score the current weights; True when training should stop (no improvement for long)."""
        nonlocal best_value, best_state, best_scores, stale, lr_stale, checkpoints
        checkpoints += 1
        model = Seq2SeqModel(network, hp, src_vocab, trg_vocab)
        scores = evaluate(network, valid_pairs, hp, with_bleu, model)
        log(
            f"Checkpoint [{checkpoints}] epoch {epoch} batches {batches}: "
            + ", ".join(f"validation-{k}={v:.6f}" for k, v in scores.items())
        )
        value = scores[metric]
        if best_value is None or (value > best_value if higher else value < best_value):
            best_value, best_state, best_scores = value, copy.deepcopy(network.state_dict()), scores
            stale = lr_stale = 0
        else:
            stale += 1
            lr_stale += 1
        _schedule(optimizer, hp, checkpoints, lr_stale)
        if lr_stale >= hp["plateau_reduce_lr_threshold"]:
            lr_stale = 0
        return epoch >= hp["min_num_epochs"] and stale >= hp["checkpoint_threshold"]

    stop = False
    while not stop:
        if hp["max_num_epochs"] is not None and epoch >= hp["max_num_epochs"]:
            break
        total, count, correct = 0.0, 0.0, 0.0
        for src, trg_in, trg_out in make_batches(train_pairs, hp, rng):
            log_probs = network(src, trg_in)
            mask = trg_out != PAD
            loss = -log_probs.gather(-1, trg_out.unsqueeze(-1)).squeeze(-1)[mask].mean()
            optimizer.zero_grad()
            loss.backward()
            if hp["clip_gradient"] > 0:
                torch.nn.utils.clip_grad_value_(network.parameters(), hp["clip_gradient"])
            optimizer.step()
            total += loss.item() * float(mask.sum())
            count += float(mask.sum())
            if hp["training_metric"] == "accuracy":
                correct += float((log_probs.detach().argmax(-1) == trg_out)[mask].sum())
            batches += 1
            if batches % hp["checkpoint_frequency_num_batches"] == 0 and checkpoint():
                stop = True
                break
            if hp["max_num_batches"] > 0 and batches >= hp["max_num_batches"]:
                stop = True
                break
        epoch += 1
        if hp["training_metric"] == "accuracy":
            shown = f"train-accuracy={correct / max(count, 1.0):.6f}"
        else:
            shown = f"train-perplexity={math.exp(min(total / max(count, 1.0), 50.0)):.6f}"
        log(f"Epoch [{epoch}] {shown} ({time.time() - started:.1f}s)")
        if not math.isfinite(total):
            raise AlgorithmClientError("Training diverged (non-finite loss); lower learning_rate")
    if batches % hp["checkpoint_frequency_num_batches"] != 0 or best_state is None:
        checkpoint()
    network.load_state_dict(best_state)
    save_model(env.model_dir, network, hp, src_vocab, trg_vocab)
    final = dict(best_scores)
    if "bleu" not in final:
        final["bleu"] = evaluate(
            network,
            valid_pairs,
            dict(hp, bleu_sample_size=hp["bleu_sample_size"] or 200),
            True,
            Seq2SeqModel(network, hp, src_vocab, trg_vocab),
        )["bleu"]
    for name in ("perplexity", "accuracy", "bleu"):
        print(f"#validation_score ({host}) : ('{name}', {final[name]!r})", flush=True)


def _schedule(optimizer, hp: dict, checkpoints: int, lr_stale: int) -> None:
    kind = hp["lr_scheduler_type"]
    for group in optimizer.param_groups:
        if kind == "plateau_reduce":
            if lr_stale >= hp["plateau_reduce_lr_threshold"]:
                group["lr"] *= hp["plateau_reduce_lr_factor"]
        elif kind == "fixed_rate_inv_t":
            group["lr"] = hp["learning_rate"] / (1.0 + checkpoints / hp["fixed_rate_lr_half_life"])
        else:
            group["lr"] = hp["learning_rate"] / math.sqrt(1.0 + checkpoints / hp["fixed_rate_lr_half_life"])
