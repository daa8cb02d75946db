"""Unit checks of DeepAR, BlazingText and seq2seq parts that need no training: hyperparameter rules,
data parsing, fastText hashing and ``.bin`` round trips, seq2seq records (byte-identical to the SDK's
``record_pb2``), BLEU, forecast summaries, and inference request errors."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.blazingtext import fasttext_format as ft
from sagestack.algorithms.blazingtext.spec import parse_hyperparameters as bt_params
from sagestack.algorithms.deepar import features
from sagestack.algorithms.deepar.data import parse_record
from sagestack.algorithms.deepar.forecast import summarize
from sagestack.algorithms.deepar.spec import parse_hyperparameters as deepar_params
from sagestack.algorithms.seq2seq import records
from sagestack.algorithms.seq2seq.metrics import corpus_bleu
from sagestack.algorithms.seq2seq.spec import parse_hyperparameters as s2s_params

DEEPAR_REQUIRED = {"context_length": "10", "prediction_length": "5", "epochs": "1", "time_freq": "H"}


# ------------------------------------------------------------------------------------------------
# DeepAR


def test_deepar_defaults_and_case_insensitive_likelihood():
    params = deepar_params({**DEEPAR_REQUIRED, "likelihood": "student-t", "cardinality": "[3, 4]"})
    assert params.likelihood == "student-T"
    assert params.cardinality == [3, 4]
    assert params.num_cells == 40 and params.num_layers == 2 and params.mini_batch_size == 128
    assert params.test_quantiles == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    assert params.early_stopping_patience is None
    assert (
        deepar_params({**DEEPAR_REQUIRED, "cardinality": "", "num_dynamic_feat": ""}).cardinality == "ignore"
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("time_freq", "3X"),
        ("likelihood", "poisson"),
        ("cardinality", "[0]"),
        ("num_dynamic_feat", "-1"),
        ("test_quantiles", "[0.5, 1.5]"),
        ("dropout_rate", "1.0"),
        ("early_stopping_patience", "zero"),
        ("context_length", "0"),
    ],
)
def test_deepar_bad_hyperparameters_name_themselves(name, value):
    with pytest.raises(AlgorithmClientError, match=name):
        deepar_params({**DEEPAR_REQUIRED, name: value})


def test_deepar_missing_required():
    with pytest.raises(AlgorithmClientError, match="time_freq"):
        deepar_params({k: v for k, v in DEEPAR_REQUIRED.items() if k != "time_freq"})


def test_deepar_record_parsing_accepts_missing_values():
    series = parse_record(
        {
            "start": "2020-01-01 00:00:00",
            "target": [1, None, "NaN", 2.5],
            "cat": [0, 2],
            "dynamic_feat": [[1, 2, 3, 4]],
        },
        "r",
    )
    assert np.isnan(series.target[1]) and np.isnan(series.target[2]) and series.target[3] == 2.5
    assert series.cat == [0, 2] and series.dynamic_feat.shape == (1, 4)
    for bad in (
        {"target": [1]},
        {"start": "not a date", "target": [1]},
        {"start": "2020-01-01", "target": ["x"]},
        {"start": "2020-01-01", "target": [1], "cat": [-1]},
        {"start": "2020-01-01", "target": [1], "dynamic_feat": [[1, None]]},
    ):
        with pytest.raises(AlgorithmClientError):
            parse_record(bad, "r")


@pytest.mark.parametrize(
    "freq, expected", [("H", "1h"), ("5min", "5min"), ("D", "1D"), ("W", "1W"), ("2M", "2MS")]
)
def test_deepar_frequencies_and_lags(freq, expected):
    assert features.pandas_freq(freq) == expected
    lags = features.lags(freq)
    assert lags[:7] == [1, 2, 3, 4, 5, 6, 7] and lags == sorted(set(lags))
    feats = features.time_features("2021-01-01 00:00:00", 10, freq)
    assert feats.shape == (10, len(features.feature_names(freq)))
    assert (feats >= -0.5).all() and (feats <= 0.5).all()


def test_deepar_hourly_lags_include_the_day_and_week():
    assert {23, 24, 25, 47, 48, 49, 167, 168, 169} <= set(features.lags("H"))


def test_forecast_summary_shapes_and_quantile_keys():
    samples = np.arange(20, dtype=np.float32).reshape(10, 2)
    out = summarize(samples, ["mean", "quantiles", "samples"], ["0.5", "0.9"])
    assert out["mean"] == [9.0, 10.0]
    assert set(out["quantiles"]) == {"0.5", "0.9"} and out["quantiles"]["0.5"] == [9.0, 10.0]
    assert len(out["samples"]) == 10


# ------------------------------------------------------------------------------------------------
# BlazingText


def test_blazingtext_mode_specific_hyperparameters():
    assert bt_params({"mode": "supervised"}).word_ngrams == 2
    assert bt_params({"mode": "cbow"}).window_size == 5
    with pytest.raises(AlgorithmClientError, match="window_size"):
        bt_params({"mode": "supervised", "window_size": "3"})
    with pytest.raises(AlgorithmClientError, match="word_ngrams"):
        bt_params({"mode": "skipgram", "word_ngrams": "3"})
    with pytest.raises(AlgorithmClientError, match="mode"):
        bt_params({"mode": "glove"})
    with pytest.raises(AlgorithmClientError, match="min_char"):
        bt_params({"mode": "skipgram", "min_char": "7", "max_char": "6"})


def test_fasttext_hash_matches_known_values():
    # FNV-1a 32-bit, bytes sign-extended as fastText's int8_t cast (equal to plain FNV-1a for ASCII).
    assert ft.fnv_hash("") == 2166136261
    assert ft.fnv_hash("a") == 0xE40C292C
    assert ft.fnv_hash("é") != ft.fnv_hash("e")
    assert ft.tokenize("a\tb  c\n") == ["a", "b", "c"]


def test_fasttext_ngram_buckets():
    hashes = [ft.fnv_hash(w) for w in ("the", "cat", "sat")]
    assert len(ft.word_ngram_buckets(hashes, 2, 1000)) == 2
    assert len(ft.word_ngram_buckets(hashes, 3, 1000)) == 3
    assert ft.word_ngram_buckets(hashes, 1, 1000) == []
    # "<ab>": n-grams of length 2..3 except the lone "<" and ">" → <a, ab, b>, <ab, ab>
    assert len(ft.char_ngram_buckets("ab", 2, 3, 1000)) == 5


def _tiny_model() -> ft.FastTextModel:
    rng = np.random.default_rng(0)
    words = ["good", "bad", ft.EOS]
    model = ft.FastTextModel(
        dim=4,
        word_ngrams=2,
        bucket=100,
        minn=0,
        maxn=0,
        loss=ft.LOSS_SOFTMAX,
        words=words,
        word_counts=[3, 2, 5],
        labels=["__label__pos", "__label__neg"],
        label_counts=[3, 2],
        input=np.zeros((0, 4), np.float32),
        output=rng.normal(size=(2, 4)).astype(np.float32),
        pruneidx=None,
    )
    buckets = sorted({i - 3 for i in model.input_ids(["good", "bad"]) if i >= 3})
    model.pruneidx = {b: k for k, b in enumerate(buckets)}
    model.input = rng.normal(size=(3 + len(buckets), 4)).astype(np.float32)
    return model


def test_fasttext_bin_round_trip_keeps_predictions():
    model = _tiny_model()
    raw = model.to_bytes()
    assert raw[:8] == (793712314).to_bytes(4, "little") + (12).to_bytes(4, "little")
    loaded = ft.FastTextModel.from_bytes(raw)
    assert loaded.words == model.words and loaded.labels == model.labels and loaded.pruneidx == model.pruneidx
    for text in ("good", "bad bad", "unknown good"):
        labels, probs = model.predict(text, 2)
        again = loaded.predict(text, 2)
        assert labels == again[0] and np.allclose(probs, again[1])
        assert probs[0] >= probs[1] and abs(sum(probs) - 1) < 1e-5


def test_fasttext_reader_refuses_other_files():
    with pytest.raises(ValueError, match="magic"):
        ft.FastTextModel.from_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="truncated"):
        ft.FastTextModel.from_bytes(_tiny_model().to_bytes()[:-10])


def test_blazingtext_predict_errors(tmp_path):
    from sagestack.algorithms import blazingtext

    (tmp_path / "model.bin").write_bytes(_tiny_model().to_bytes())
    model = blazingtext.load_model(tmp_path)
    body, ctype = blazingtext.predict(
        model, b'{"instances": ["good"], "configuration": {"k": 2}}', "application/json", "application/json"
    )
    assert ctype == "application/json" and len(json.loads(body)[0]["label"]) == 2
    for payload, status in ((b'{"instances": "good"}', 400), (b'{"instances": [3]}', 400), (b"{", 400)):
        with pytest.raises(InferenceError) as info:
            blazingtext.predict(model, payload, "application/json", "application/json")
        assert info.value.status == status
    with pytest.raises(InferenceError) as info:
        blazingtext.predict(
            model,
            b'{"instances": ["good"], "configuration": {"k": 0}}',
            "application/json",
            "application/json",
        )
    assert info.value.status == 400
    with pytest.raises(InferenceError) as info:
        blazingtext.predict(model, b"good", "text/csv", "application/json")
    assert info.value.status == 415


# ------------------------------------------------------------------------------------------------
# Seq2seq


def test_seq2seq_hyperparameter_rules():
    params = s2s_params({})
    assert params.rnn_attention_num_hidden == params.rnn_num_hidden == 1024
    assert params.max_num_epochs is None and params.optimizer_type == "adam"
    with pytest.raises(AlgorithmClientError, match="rnn_num_hidden"):
        s2s_params({"rnn_num_hidden": "33"})
    with pytest.raises(AlgorithmClientError, match="momentum"):
        s2s_params({"momentum": "0.9"})
    with pytest.raises(AlgorithmClientError, match="rnn_attention_type"):
        s2s_params({"rnn_attention_type": "luong"})
    with pytest.raises(AlgorithmClientError, match="min_num_epochs"):
        s2s_params({"min_num_epochs": "5", "max_num_epochs": "2"})


def test_seq2seq_records_match_the_sdk_record_pb2():
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.amazon import common, record_pb2

    record = record_pb2.Record()
    record.features["source"].int32_tensor.values.extend([5, 6, 300, 0])
    record.features["target"].int32_tensor.values.extend([7])
    ours = record_pb2.Record()
    ours.ParseFromString(records.encode_record({"source": [5, 6, 300, 0], "target": [7]}))
    assert ours == record  # (map entries have no fixed order on the wire)
    single = record_pb2.Record()
    single.features["source"].int32_tensor.values.extend([5, 6, 300, 0])
    assert records.encode_record({"source": [5, 6, 300, 0]}) == single.SerializeToString()
    buf = io.BytesIO()
    common._write_recordio(buf, record.SerializeToString())
    common._write_recordio(buf, record.SerializeToString())
    assert records.read(buf.getvalue()) == [{"source": [5, 6, 300, 0], "target": [7]}] * 2
    read_back = common.read_records(io.BytesIO(records.write([{"target": [4, 5]}])))
    assert list(read_back[0].features["target"].int32_tensor.values) == [4, 5]


def test_corpus_bleu():
    ref = [[1, 2, 3, 4, 5], [6, 7, 8, 9]]
    assert corpus_bleu(ref, ref) == pytest.approx(100.0)
    assert corpus_bleu([[9, 9, 9, 9]], [[1, 2, 3, 4]]) == 0.0
    partial = corpus_bleu([[1, 2, 3, 4, 9]], [[1, 2, 3, 4, 5]])
    assert 0 < partial < 100
