"""fastText-style text classification (Joulin et al. 2017) trained with torch.

The dictionary keeps words seen at least ``min_count`` times (plus ``</s>``, which ends every line)
and every label; a line's input is the mean of the embeddings of its known words and of its hashed
word n-grams (``word_ngrams``, ``buckets``, :mod:`.fasttext_format`); a linear layer and a softmax
give the label probabilities. Only the buckets met in training get rows (the saved model lists them
in fastText's ``pruneidx``), so ``buckets=2000000`` costs nothing. Training: SGD over mini-batches
of ``BATCH`` lines (summed loss, as fastText's per-example steps add up), the learning rate decaying
linearly to 0 over all epochs; multi-label lines spread their target over their labels.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.blazingtext.corpus import Example
from sagestack.algorithms.blazingtext.fasttext_format import EOS, LOSS_SOFTMAX, FastTextModel
from sagestack.algorithms.blazingtext.spec import BlazingTextParams

BATCH = 8
SEED = 13


def build_dictionary(examples: list[Example], params: BlazingTextParams) -> FastTextModel:
    word_counts: Counter[str] = Counter()
    label_counts: Counter[str] = Counter()
    for example in examples:
        word_counts.update(example.words)
        word_counts[EOS] += 1
        label_counts.update(example.labels)
    words = sorted(
        (w for w, c in word_counts.items() if c >= params.min_count), key=lambda w: (-word_counts[w], w)
    )
    labels = sorted(label_counts, key=lambda w: (-label_counts[w], w))
    model = FastTextModel(
        dim=params.vector_dim,
        word_ngrams=params.word_ngrams,
        bucket=params.buckets,
        minn=0,
        maxn=0,
        loss=LOSS_SOFTMAX,
        words=words,
        word_counts=[word_counts[w] for w in words],
        labels=labels,
        label_counts=[label_counts[w] for w in labels],
        input=np.zeros((0, params.vector_dim), np.float32),
        output=np.zeros((len(labels), params.vector_dim), np.float32),
        pruneidx=None,
        ntokens=sum(word_counts.values()) + sum(label_counts.values()),
        epoch=params.epochs,
        min_count=params.min_count,
    )
    # Keep only the buckets the training lines use; they become rows nwords + index.
    nwords = len(words)
    seen: set[int] = set()
    for example in examples:
        seen.update(i - nwords for i in model.input_ids(example.words) if i >= nwords)
    model.pruneidx = {bucket: index for index, bucket in enumerate(sorted(seen))}
    return model


def _encode(model: FastTextModel, examples: list[Example]) -> tuple[list[list[int]], list[list[int]]]:
    label_index = {label: i for i, label in enumerate(model.labels)}
    inputs = [model.input_ids(e.words) for e in examples]
    targets = [[label_index[lab] for lab in e.labels if lab in label_index] for e in examples]
    return inputs, targets


def accuracy(model: FastTextModel, examples: list[Example], encoded: list[list[int]] | None = None) -> float:
    """Precision at 1: the share of lines whose most probable label is one of theirs (``encoded``: the
    lines' input rows, when already known)."""
    if not examples:
        return 0.0
    ids = encoded if encoded is not None else [model.input_ids(e.words) for e in examples]
    hidden = np.stack(
        [model.input[row].mean(axis=0) if row else np.zeros(model.dim, np.float32) for row in ids]
    )
    best = np.argmax(hidden @ model.output.T, axis=1)
    hits = sum(model.labels[int(b)] in e.labels for b, e in zip(best, examples))
    return hits / len(examples)


def train_classifier(
    examples: list[Example],
    params: BlazingTextParams,
    validation: list[Example] | None,
    log: Callable[[str], None],
    threads: int = 1,
) -> FastTextModel:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, threads))
    model = build_dictionary(examples, params)
    rows = len(model.words) + len(model.pruneidx or {})
    if rows == 0:
        raise AlgorithmClientError(
            f"No word occurs min_count={params.min_count} times in the train channel; lower min_count"
        )
    dim = params.vector_dim
    embedding = nn.EmbeddingBag(rows, dim, mode="mean", sparse=True)
    nn.init.uniform_(embedding.weight, -1.0 / dim, 1.0 / dim)
    output = nn.Linear(dim, len(model.labels), bias=False)
    nn.init.zeros_(output.weight)
    optimizer = torch.optim.SGD([*embedding.parameters(), *output.parameters()], lr=params.learning_rate)
    inputs, targets = _encode(model, examples)
    usable = [i for i, ids in enumerate(inputs) if ids and targets[i]]
    validation_ids = [model.input_ids(e.words) for e in validation] if validation else None
    rng = np.random.default_rng(SEED)
    total_steps = params.epochs * max(1, -(-len(usable) // BATCH))
    step = 0
    best = (-1.0, None, 0)  # (accuracy, weights, epoch)
    stale = 0

    def snapshot() -> FastTextModel:
        trained = copy.copy(model)
        trained.input = embedding.weight.detach().numpy().copy()
        trained.output = output.weight.detach().numpy().copy()
        return trained

    for epoch in range(params.epochs):
        order = rng.permutation(usable)
        total_loss = 0.0
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            flat = [idx for i in chosen for idx in inputs[i]]
            offsets = np.cumsum([0] + [len(inputs[i]) for i in chosen[:-1]])
            target = torch.zeros(len(chosen), len(model.labels))
            for row, i in enumerate(chosen):
                target[row, targets[i]] = 1.0 / len(targets[i])
            for group in optimizer.param_groups:
                group["lr"] = params.learning_rate * max(0.0, 1.0 - step / total_steps)
            hidden = embedding(torch.tensor(flat), torch.tensor(offsets))
            logits = output(hidden)
            loss = -(target * torch.log_softmax(logits, dim=1)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            step += 1
        log(f"Epoch {epoch + 1}/{params.epochs}: loss {total_loss / max(1, len(usable)):.6f}")
        if params.early_stopping and validation is not None and epoch + 1 >= params.min_epochs:
            current = snapshot()
            score = accuracy(current, validation, validation_ids)
            log(f"Epoch {epoch + 1}: validation accuracy {score:.4f}")
            if score > best[0]:
                best, stale = (score, current, epoch + 1), 0
            else:
                stale += 1
                if stale >= params.patience:
                    log(
                        f"Validation accuracy has not improved for {stale} epochs; stopping early and keeping "
                        f"epoch {best[2]} (accuracy {best[0]:.4f})"
                    )
                    break
    return best[1] if best[1] is not None else snapshot()
