"""Tiny training runs through each algorithm's ``train(env)`` covering the options the end-to-end test
does not: every DeepAR likelihood, ``cat``/``dynamic_feat``/missing values/Parquet input and early
stopping; BlazingText's JSON Lines input, subwords and CBOW; seq2seq's CNN and GRU variants and
attention types. Each job takes a second or two."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from jobdir import make_job, metric_values
from sagestack.algorithms import blazingtext, deepar, seq2seq
from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.seq2seq import records


def _train(module, env) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.train(env)
    return out.getvalue()


def _lines(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


# ------------------------------------------------------------------------------------------------
# DeepAR

DEEPAR_HPS = {
    "time_freq": "D",
    "context_length": "7",
    "prediction_length": "3",
    "epochs": "1",
    "num_cells": "4",
    "num_layers": "1",
    "mini_batch_size": "8",
}


def _series(n: int = 4, length: int = 40, *, counts: bool = False, unit: bool = False, extras: bool = False):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        t = np.arange(length)
        y = 5 + 2 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, length)
        if counts:
            y = rng.poisson(np.maximum(y, 0.1)).astype(float)
        if unit:
            y = 1 / (1 + np.exp(-(y - 5)))
        target: list = y.round(4).tolist()
        target[5] = None
        target[6] = "NaN"
        row = {"start": "2022-02-01 00:00:00", "target": target}
        if extras:
            row["cat"] = [i % 2, i % 3]
            row["dynamic_feat"] = [np.sin(np.arange(length + 3)).round(3).tolist()]
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    "likelihood, kind",
    [
        ("gaussian", {}),
        ("student-T", {}),
        ("negative-binomial", {"counts": True}),
        ("beta", {"unit": True}),
        ("deterministic-L1", {}),
    ],
)
def test_deepar_likelihoods_train_and_forecast(tmp_path, likelihood, kind):
    rows = _series(**kind)
    env = make_job(
        tmp_path,
        {**DEEPAR_HPS, "likelihood": likelihood},
        {"train": {"train.json": _lines(rows)}, "test": {"test.json": _lines(rows)}},
    )
    log = _train(deepar, env)
    metrics = metric_values(log, deepar.SPEC)
    assert {"test:RMSE", "test:mean_wQuantileLoss", "train:final_loss"} <= set(metrics)
    model = deepar.load_model(env.model_dir)
    request = {
        "instances": rows[:2],
        "configuration": {"num_samples": 5, "output_types": ["samples", "mean"]},
    }
    body, _ = deepar.predict(model, json.dumps(request).encode(), "application/json", "application/json")
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 2 and len(predictions[0]["samples"]) == 5
    values = np.array(predictions[0]["samples"])
    assert values.shape == (5, 3) and np.isfinite(values).all()
    if likelihood == "beta":
        assert ((values >= 0) & (values <= 1)).all()
    if likelihood == "negative-binomial":
        assert (values >= 0).all() and np.allclose(values, values.round())
    if likelihood == "deterministic-L1":
        assert np.allclose(values, values[0])
    # a series with no history at all still gets a forecast (from the calendar features alone)
    empty = {"instances": [{"start": "2022-03-01", "target": []}], "configuration": {"num_samples": 3}}
    body, _ = deepar.predict(model, json.dumps(empty).encode(), "application/json", "application/json")
    assert len(json.loads(body)["predictions"][0]["mean"]) == 3


def test_deepar_cat_dynamic_feat_and_parquet(tmp_path):
    import pandas as pd

    rows = _series(extras=True)
    frame = pd.DataFrame([{**r, "target": [None if v == "NaN" else v for v in r["target"]]} for r in rows])
    buf = io.BytesIO()
    frame.to_parquet(buf)
    env = make_job(
        tmp_path,
        {**DEEPAR_HPS, "early_stopping_patience": "1", "epochs": "3", "cardinality": "auto"},
        {"train": {"data.parquet": buf.getvalue()}},
    )
    _train(deepar, env)
    model = deepar.load_model(env.model_dir)
    assert model.config.cardinality == [2, 3] and model.config.num_dynamic_feat == 1
    body, _ = deepar.predict(model, _lines(rows[:3]), "application/jsonlines", "application/jsonlines")
    assert len(body.decode().splitlines()) == 3
    # an instance without the features the model was trained with is refused
    from sagestack.algorithms.base import InferenceError

    for missing in ("cat", "dynamic_feat"):
        bad = {k: v for k, v in rows[0].items() if k != missing}
        with pytest.raises(InferenceError, match=missing):
            deepar.predict(
                model, json.dumps({"instances": [bad]}).encode(), "application/json", "application/json"
            )


def test_deepar_data_errors_are_client_errors(tmp_path):
    rows = _series()
    rows[1]["cat"] = [1]
    env = make_job(tmp_path / "a", DEEPAR_HPS, {"train": {"train.json": _lines(rows)}})
    with pytest.raises(AlgorithmClientError, match="cat"):
        deepar.train(env)
    env = make_job(
        tmp_path / "b", {**DEEPAR_HPS, "likelihood": "beta"}, {"train": {"train.json": _lines(_series())}}
    )
    with pytest.raises(AlgorithmClientError, match="beta"):
        deepar.train(env)
    env = make_job(
        tmp_path / "c", DEEPAR_HPS, {"train": {"train.json": b'{"start": "2020-01-01", "target": [1, 2\n'}}
    )
    with pytest.raises(AlgorithmClientError, match="JSON"):
        deepar.train(env)


# ------------------------------------------------------------------------------------------------
# BlazingText


def test_blazingtext_supervised_from_json_lines_multi_label(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(200):
        k = int(rng.integers(0, 2))
        rows.append({"source": " ".join(["yes", "good"][k:] + ["word"] * 3), "label": [k] if k else [0, 2]})
    env = make_job(
        tmp_path,
        {"mode": "supervised", "epochs": "3", "min_count": "1", "vector_dim": "5", "learning_rate": "0.5"},
        {"train": {"train.jsonl": _lines(rows)}},
        {"train": "application/jsonlines"},
    )
    log = _train(blazingtext, env)
    assert "#train_accuracy:" in log
    model = blazingtext.load_model(env.model_dir)
    assert set(model.classifier.labels) == {"__label__0", "__label__1", "__label__2"}
    body, ctype = blazingtext.predict(
        model, b'{"source": "good word", "k": 3}\n', "application/jsonlines", "application/jsonlines"
    )
    answer = json.loads(body)
    assert ctype == "application/jsonlines" and len(answer["label"]) == 3
    assert abs(sum(answer["prob"]) - 1) < 1e-4


def test_blazingtext_early_stopping_needs_validation(tmp_path):
    env = make_job(
        tmp_path,
        {"mode": "supervised", "early_stopping": "true"},
        {"train": {"t.txt": b"__label__a x y\n"}},
        {"train": "text/plain"},
    )
    with pytest.raises(AlgorithmClientError, match="validation"):
        blazingtext.train(env)


@pytest.mark.parametrize(
    "mode, subwords", [("cbow", "false"), ("batch_skipgram", "false"), ("skipgram", "true")]
)
def test_blazingtext_word2vec_artifacts_and_oov(tmp_path, mode, subwords):
    text = "\n".join("alpha beta gamma delta " * 3 for _ in range(30)).encode()
    env = make_job(
        tmp_path,
        {
            "mode": mode,
            "subwords": subwords,
            "buckets": "500",
            "min_count": "1",
            "vector_dim": "6",
            "epochs": "2",
        },
        {"train": {"corpus.txt": text}},
        {"train": "text/plain"},
    )
    _train(blazingtext, env)
    names = {p.name for p in env.model_dir.iterdir()}
    assert {"vectors.txt", "vectors.bin"} <= names and ("subwords.bin" in names) == (subwords == "true")
    assert env.model_dir.joinpath("vectors.txt").read_text().splitlines()[0] == "4 6"
    model = blazingtext.load_model(env.model_dir)
    body, _ = blazingtext.predict(
        model, b'{"instances": ["alpha", "alphas"]}', "application/json", "application/json"
    )
    known, oov = json.loads(body)
    assert known["word"] == "alpha" and len(known["vector"]) == 6 and any(known["vector"])
    assert any(oov["vector"]) == (subwords == "true")


# ------------------------------------------------------------------------------------------------
# Seq2seq

VOCAB = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3, **{f"w{i}": i + 4 for i in range(6)}}


def _seq2seq_job(tmp_path, extra: dict):
    rng = np.random.default_rng(0)
    pairs = [[int(x) + 4 for x in rng.integers(0, 6, int(rng.integers(2, 5)))] for _ in range(40)]
    data = records.write({"source": p, "target": p[::-1]} for p in pairs)
    hps = {
        "max_num_epochs": "1",
        "rnn_num_hidden": "8",
        "cnn_num_hidden": "8",
        "num_embed_source": "4",
        "num_embed_target": "4",
        "batch_size": "8",
        "beam_size": "2",
        "bleu_sample_size": "5",
        **extra,
    }
    vocab = json.dumps(VOCAB).encode()
    return make_job(
        tmp_path,
        hps,
        {
            "train": {"train.rec": data},
            "validation": {"val.rec": data},
            "vocab": {"vocab.src.json": vocab, "vocab.trg.json": vocab},
        },
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"encoder_type": "cnn", "decoder_type": "cnn"},
        {"encoder_type": "cnn", "rnn_attention_type": "dot"},
        {
            "rnn_cell_type": "gru",
            "rnn_attention_type": "bilinear",
            "rnn_decoder_state_init": "avg",
            "training_metric": "accuracy",
        },
        {
            "num_layers_encoder": "2",
            "num_layers_decoder": "2",
            "rnn_residual_connections": "true",
            "rnn_attention_type": "fixed",
            "rnn_decoder_state_init": "zero",
            "optimizer_type": "sgd",
            "momentum": "0.9",
            "lr_scheduler_type": "fixed_rate_inv_sqrt_t",
        },
    ],
)
def test_seq2seq_variants_train_and_translate(tmp_path, extra):
    env = _seq2seq_job(tmp_path, extra)
    metrics = metric_values(_train(seq2seq, env), seq2seq.SPEC)
    assert {"validation:perplexity", "validation:accuracy", "validation:bleu"} <= set(metrics)
    model = seq2seq.load_model(env.model_dir)
    body, _ = seq2seq.predict(
        model, b'{"instances": [{"data": "w1 w2 unknown"}]}', "application/json", "application/json"
    )
    target = json.loads(body)["predictions"][0]["target"]
    assert all(token in VOCAB for token in target.split())


def test_seq2seq_needs_its_vocabulary(tmp_path):
    env = _seq2seq_job(tmp_path, {})
    (env.channels["vocab"].path / "vocab.trg.json").unlink()
    with pytest.raises(AlgorithmClientError, match="vocab.trg.json"):
        seq2seq.train(env)


def test_seq2seq_out_of_vocabulary_ids_are_refused(tmp_path):
    env = _seq2seq_job(tmp_path, {})
    (env.channels["train"].path / "train.rec").write_bytes(
        records.write([{"source": [4, 99], "target": [4]}])
    )
    with pytest.raises(AlgorithmClientError, match="vocabulary"):
        seq2seq.train(env)


@pytest.mark.parametrize("module", [deepar, blazingtext, seq2seq], ids=lambda m: m.SPEC.name)
def test_pipe_mode_is_refused_naming_the_channel(tmp_path, module):
    from sagestack.algorithms.base import TrainingEnv

    hyperparameters = {deepar: DEEPAR_HPS, blazingtext: {"mode": "skipgram"}, seq2seq: {}}[module]
    channels = {
        name: {"data": b"x"} for name in ("train", "validation", "vocab")[: 3 if module is seq2seq else 1]
    }
    env = make_job(tmp_path, hyperparameters, channels)
    config = tmp_path / "input" / "config" / "inputdataconfig.json"
    data_config = json.loads(config.read_text())
    data_config["train"]["TrainingInputMode"] = "Pipe"
    config.write_text(json.dumps(data_config))
    assert module.SPEC.channel("train").input_modes == ("File", "FastFile")
    with pytest.raises(AlgorithmClientError, match="'train' uses Pipe"):
        module.train(TrainingEnv.from_root(tmp_path))
    assert not env.model_dir.exists()
