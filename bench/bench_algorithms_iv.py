"""DeepAR, BlazingText and seq2seq vs references called directly: training time and quality.

Usage: ``python -m bench.bench_algorithms_iv [--scale N] [--only deepar,blazingtext,word2vec,seq2seq]``
(``--scale`` multiplies the data sizes; 1 is a minute-scale run on a laptop-class CPU).

Each sagestack algorithm runs ``train(env)`` on an ``/opt/ml``-style job directory (its channel files
written beforehand, untimed); quality goes through its own ``load_model`` + ``predict``.

* DeepAR (gaussian, 1 layer × 20 cells, 15 epochs) vs the same-size torch LSTM forecaster written
  directly (lags 1..7 and the daily lags of a week, hour-of-day feature, Gaussian head, Adam, the same
  number of updates, no framework) and the seasonal-naive forecast — held-out RMSE of the mean
  forecast over the last day of noisy daily-seasonal hourly series.
* BlazingText supervised (fastText-style, word bigrams) vs scikit-learn ``LogisticRegression`` on
  bag-of-words counts (fastText itself is not installed) — held-out accuracy.
* BlazingText skipgram vs gensim ``Word2Vec`` called directly with the same settings — the gap
  between same-topic and cross-topic cosine similarity.
* Seq2seq (LSTM 64, attention, 5 epochs) learning "reverse and shift" vs chance — exact-match rate
  and BLEU of beam-search outputs (no reference toolkit is installed; the row shows the target).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.bench_algorithms import Result, _timed, _train_quietly, make_job, render

PREDICTION, CONTEXT = 24, 48


def _lines(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


# ------------------------------------------------------------------------------------------------
# DeepAR


def _series(n: int, days: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(24 * days + PREDICTION)
    out = []
    for i in range(n):
        y = 20 + 3 * (i % 4) + (5 + i % 3) * np.sin(2 * np.pi * t / 24 + 0.4 * i) + rng.normal(0, 1.0, t.size)
        out.append(y.astype(np.float32))
    return out


def _torch_reference(
    history: list[np.ndarray], epochs: int, batches: int, batch: int
) -> tuple[np.ndarray, float]:
    """A DeepAR-like LSTM written directly in torch; returns mean forecasts and the training time."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    lags = np.array(sorted({*range(1, 8), *(24 * k + d for k in range(1, 8) for d in (-1, 0, 1))}))
    window = CONTEXT + PREDICTION
    rnn, head = nn.LSTM(len(lags) + 2, 20, batch_first=True), nn.Linear(20, 2)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=0.01)
    rng = np.random.default_rng(0)

    def inputs(y: np.ndarray, positions: np.ndarray, scale: float) -> np.ndarray:
        lagged = y[positions[:, None] - lags[None, :]] / scale
        hour = np.sin(2 * np.pi * positions / 24), np.cos(2 * np.pi * positions / 24)
        return np.column_stack([lagged, *hour]).astype(np.float32)

    started = time.perf_counter()
    for _ in range(epochs * batches):
        xs, ys, ss = [], [], []
        for _ in range(batch):
            y = history[rng.integers(len(history))]
            end = int(rng.integers(lags.max() + window, len(y) + 1))
            pos = np.arange(end - window, end)
            scale = 1.0 + float(np.abs(y[end - window : end - PREDICTION]).mean())
            xs.append(inputs(y, pos, scale))
            ys.append(y[pos])
            ss.append(scale)
        scale_t = torch.tensor(ss).view(-1, 1)
        out, _ = rnn(torch.from_numpy(np.stack(xs)))
        raw = head(out)
        dist = torch.distributions.Normal(
            raw[..., 0] * scale_t, nn.functional.softplus(raw[..., 1]) * scale_t + 1e-6
        )
        loss = -dist.log_prob(torch.from_numpy(np.stack(ys))).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    forecasts = []
    with torch.no_grad():
        for y in history:
            buf = np.concatenate([y, np.zeros(PREDICTION, np.float32)])
            scale = 1.0 + float(np.abs(y[-CONTEXT:]).mean())
            _, state = rnn(torch.from_numpy(inputs(buf, np.arange(len(y) - CONTEXT, len(y)), scale))[None])
            for k in range(PREDICTION):
                pos = np.array([len(y) + k])
                out, state = rnn(torch.from_numpy(inputs(buf, pos, scale))[None], state)
                buf[len(y) + k] = float(head(out)[0, 0, 0]) * scale  # the mean path
            forecasts.append(buf[len(y) :])
    return np.array(forecasts), seconds


def bench_deepar(scale: int, tmp: Path) -> Result:
    from sagestack.algorithms import deepar

    n = 24 * scale
    full = _series(n, 14)
    history = [y[:-PREDICTION] for y in full]
    truth = np.array([y[-PREDICTION:] for y in full])
    start = "2024-01-01 00:00:00"
    hps = {
        "time_freq": "H", "context_length": CONTEXT, "prediction_length": PREDICTION, "epochs": 15,
        "num_cells": 20, "num_layers": 1, "mini_batch_size": 32, "learning_rate": 0.01, "likelihood": "gaussian",
    }  # fmt: skip
    env = make_job(
        tmp / "deepar",
        hps,
        {"train": ("train.json", _lines([{"start": start, "target": y.tolist()} for y in history]))},
    )
    ours = _train_quietly(deepar, env)
    model = deepar.load_model(env.model_dir)
    request = {
        "instances": [{"start": start, "target": y.tolist()} for y in history],
        "configuration": {"num_samples": 100, "output_types": ["mean"]},
    }
    body, _ = deepar.predict(model, json.dumps(request).encode(), "application/json", "application/json")
    mean = np.array([p["mean"] for p in json.loads(body)["predictions"]])
    batches = max(50, int(np.ceil(sum(np.ceil(len(y) / (CONTEXT + PREDICTION)) for y in history) / 32)))
    ref_mean, ref_seconds = _torch_reference(history, 15, batches, 32)
    naive = np.array([y[-24:] for y in history])

    def rmse(pred: np.ndarray) -> float:
        return float(np.sqrt(np.mean((pred - truth) ** 2)))

    return Result(
        f"DeepAR ({n} hourly series × {len(history[0])})", ours, "torch LSTM, direct", ref_seconds,
        "held-out RMSE", rmse(mean), rmse(ref_mean), f"seasonal-naive RMSE {rmse(naive):.3f}; noise σ = 1",
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------
# BlazingText

TOPICS = [[f"t{k}w{i}" for i in range(30)] for k in range(4)]
FILLER = [f"c{i}" for i in range(200)]


def _labelled(n: int, seed: int):
    rng = np.random.default_rng(seed)
    rows = []
    for k in rng.integers(0, 4, n):
        words = [
            str(rng.choice(TOPICS[k])) if rng.random() < 0.25 else str(rng.choice(FILLER)) for _ in range(12)
        ]
        rows.append((int(k), " ".join(words)))
    return rows


def bench_blazingtext(scale: int, tmp: Path) -> Result:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    from sagestack.algorithms import blazingtext

    train, test = _labelled(5000 * scale, 1), _labelled(2000, 2)
    hps = {
        "mode": "supervised",
        "epochs": 10,
        "min_count": 1,
        "vector_dim": 20,
        "learning_rate": 0.5,
        "buckets": 200000,
    }
    text = "".join(f"__label__{k} {s}\n" for k, s in train).encode()
    env = make_job(tmp / "blazingtext", hps, {"train": ("train.txt", text)}, {"train": "text/plain"})
    ours = _train_quietly(blazingtext, env)
    model = blazingtext.load_model(env.model_dir)
    body, _ = blazingtext.predict(
        model,
        json.dumps({"instances": [s for _, s in test]}).encode(),
        "application/json",
        "application/json",
    )
    accuracy = float(np.mean([a["label"][0] == f"__label__{k}" for a, (k, _) in zip(json.loads(body), test)]))
    vectorizer = CountVectorizer(token_pattern=r"\S+")

    def reference():
        X = vectorizer.fit_transform([s for _, s in train])
        return LogisticRegression(max_iter=2000).fit(X, [k for k, _ in train])

    clf, ref_seconds = _timed(reference)
    ref_accuracy = float(clf.score(vectorizer.transform([s for _, s in test]), [k for k, _ in test]))
    return Result(
        f"BlazingText supervised ({len(train):,} sentences)", ours, "sklearn LogisticRegression (BoW)", ref_seconds,
        "held-out accuracy", accuracy, ref_accuracy, "ours: 10 epochs, lr 0.5, word bigrams",
    )  # fmt: skip


def bench_word2vec(scale: int, tmp: Path) -> Result:
    from gensim.models import Word2Vec

    from sagestack.algorithms import blazingtext

    rng = np.random.default_rng(3)
    corpus = [[str(rng.choice(TOPICS[k])) for _ in range(10)] for k in rng.integers(0, 4, 10000 * scale)]
    hps = {
        "mode": "skipgram",
        "epochs": 5,
        "min_count": 2,
        "vector_dim": 50,
        "sampling_threshold": 0.001,
        "evaluation": False,
    }
    env = make_job(
        tmp / "word2vec",
        hps,
        {"train": ("corpus.txt", "\n".join(" ".join(s) for s in corpus).encode())},
        {"train": "text/plain"},
    )
    ours = _train_quietly(blazingtext, env)
    kv = blazingtext.load_model(env.model_dir).vectors
    reference, ref_seconds = _timed(
        lambda: Word2Vec(
            corpus,
            vector_size=50,
            window=5,
            min_count=2,
            negative=5,
            sample=0.001,
            alpha=0.05,
            epochs=5,
            sg=1,
            workers=2,
            seed=1,
        )
    )

    def gap(vectors) -> float:
        same = np.mean([vectors.similarity(t[i], t[i + 1]) for t in TOPICS for i in range(10)])
        cross = np.mean(
            [vectors.similarity(TOPICS[k][i], TOPICS[(k + 1) % 4][i]) for k in range(4) for i in range(10)]
        )
        return float(same - cross)

    return Result(
        f"BlazingText skipgram ({len(corpus):,} sentences)", ours, "gensim Word2Vec, direct", ref_seconds,
        "same − cross-topic cosine", gap(kv), gap(reference.wv), "ours includes reading the file and writing vectors.txt/.bin",
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Seq2seq


def bench_seq2seq(scale: int, tmp: Path) -> Result:
    from sagestack.algorithms import seq2seq
    from sagestack.algorithms.seq2seq import records

    vocab = 20
    rng = np.random.default_rng(4)

    def pairs(n):
        out = []
        for _ in range(n):
            s = rng.integers(0, vocab, int(rng.integers(3, 9)))
            out.append(([int(x) + 4 for x in s], [(int(x) + 1) % vocab + 4 for x in s[::-1]]))
        return out

    train, valid, test = pairs(3000 * scale), pairs(200), pairs(200)
    special = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    src = {**special, **{f"a{i}": i + 4 for i in range(vocab)}}
    trg = {**special, **{f"b{i}": i + 4 for i in range(vocab)}}
    files = {
        "train": ("train.rec", records.write({"source": s, "target": t} for s, t in train)),
        "validation": ("val.rec", records.write({"source": s, "target": t} for s, t in valid)),
        "vocab": ("vocab.src.json", json.dumps(src).encode()),
    }
    hps = {
        "max_num_epochs": 5,
        "rnn_num_hidden": 64,
        "num_embed_source": 32,
        "num_embed_target": 32,
        "batch_size": 64,
        "learning_rate": 0.005,
        "checkpoint_frequency_num_batches": 100,
        "beam_size": 3,
    }
    env = make_job(tmp / "seq2seq", hps, files)
    (env.channels["vocab"].path / "vocab.trg.json").write_text(json.dumps(trg))
    ours = _train_quietly(seq2seq, env)
    model = seq2seq.load_model(env.model_dir)
    body, _ = seq2seq.predict(
        model,
        records.write({"source": s} for s, _ in test),
        "application/x-recordio-protobuf",
        "application/x-recordio-protobuf",
    )
    outputs = [r["target"] for r in records.read(body)]
    exact = float(np.mean([o == t for o, (_, t) in zip(outputs, test)]))
    from sagestack.algorithms.seq2seq.metrics import corpus_bleu

    bleu = corpus_bleu(outputs, [t for _, t in test])
    return Result(
        f"Seq2seq reverse+shift ({len(train):,} pairs)", ours, "chance", 0.0,
        "exact-match rate", exact, float(np.mean([1 / vocab ** len(t) for _, t in test])), f"BLEU {bleu:.1f}",
    )  # fmt: skip


BENCHMARKS: dict[str, Callable[[int, Path], Result]] = {
    "deepar": bench_deepar,
    "blazingtext": bench_blazingtext,
    "word2vec": bench_word2vec,
    "seq2seq": bench_seq2seq,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="data size multiplier (default 1)")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ", ".join(BENCHMARKS)
    )
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-algorithms-iv-") as tmp:
        for name in selected:
            result = BENCHMARKS[name](args.scale, Path(tmp))
            print(
                f"{result.name}: sagestack {result.ours_s:.2f}s, {result.reference} {result.reference_s:.2f}s; "
                f"{result.metric} {result.ours_quality:.6g} vs {result.reference_quality:.6g} {result.note}",
                flush=True,
            )
            results.append(result)
    print()
    print(render(results))


if __name__ == "__main__":
    main()
