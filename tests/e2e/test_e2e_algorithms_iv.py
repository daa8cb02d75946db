"""DeepAR, BlazingText (supervised and Word2Vec) and seq2seq through the SDK's generic ``Estimator`` with
``image_uris.retrieve(...)``: fit → deploy → predict (and batch transform), on synthetic data with a
known answer, checked against simple references.

* DeepAR: noisy daily-seasonal hourly series; the mean forecast beats the seasonal-naive forecast on
  the held-out day, and the 10–90 % quantile band covers about 80 % of the truth.
* BlazingText supervised: topic-word sentences; accuracy reaches scikit-learn's bag-of-words
  logistic regression. Word2Vec (skipgram): words of the same topic end up nearer than across topics.
* Seq2seq: a deterministic mapping (reverse the sequence, shift each token) learned far above chance.
* Bad hyperparameters of each algorithm → ``Failed`` with a ``ClientError`` naming them.

All jobs start before any is waited for, then all endpoints likewise.
"""

from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE

pytestmark = pytest.mark.slow

PREDICTION, CONTEXT, DAYS, N_SERIES, NOISE = 24, 48, 14, 12, 1.0
TOPICS = [[f"t{k}w{i}" for i in range(20)] for k in range(4)]
FILLER = [f"c{i}" for i in range(100)]
SEQ_VOCAB = 10
SPECIAL = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
SRC_VOCAB = {**SPECIAL, **{f"a{i}": i + 4 for i in range(SEQ_VOCAB)}}
TRG_VOCAB = {**SPECIAL, **{f"b{i}": i + 4 for i in range(SEQ_VOCAB)}}


def _lines(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _series_data():
    rng = np.random.default_rng(0)
    length = 24 * DAYS
    t = np.arange(length + PREDICTION)
    full = []
    for i in range(N_SERIES):
        level, amplitude, phase = 20 + 3 * (i % 4), 5 + i % 3, i * 0.4
        full.append(level + amplitude * np.sin(2 * np.pi * t / 24 + phase) + rng.normal(0, NOISE, t.size))
    start = "2024-01-01 00:00:00"
    train = [{"start": start, "target": y[:length].round(4).tolist(), "cat": [i]} for i, y in enumerate(full)]
    test = [{"start": start, "target": y.round(4).tolist(), "cat": [i]} for i, y in enumerate(full)]
    return train, test


def _text_data():
    rng = np.random.default_rng(1)

    def sentence(k):
        return " ".join(
            str(rng.choice(TOPICS[k])) if rng.random() < 0.3 else str(rng.choice(FILLER)) for _ in range(12)
        )

    def labelled(n):
        return [(k, sentence(k)) for k in rng.integers(0, 4, n)]

    corpus = [" ".join(str(rng.choice(TOPICS[k])) for _ in range(10)) for k in rng.integers(0, 4, 2000)]
    return labelled(2000), labelled(500), labelled(400), corpus


def _pairs(n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        source = rng.integers(0, SEQ_VOCAB, int(rng.integers(3, 7)))
        target = [(int(x) + 1) % SEQ_VOCAB for x in source[::-1]]
        out.append(([int(x) + 4 for x in source], [x + 4 for x in target]))
    return out


def _records(pairs) -> bytes:
    from sagemaker.amazon import common, record_pb2

    buf = io.BytesIO()
    for source, target in pairs:
        record = record_pb2.Record()
        record.features["source"].int32_tensor.values.extend(source)
        record.features["target"].int32_tensor.values.extend(target)
        common._write_recordio(buf, record.SerializeToString())
    return buf.getvalue()


@pytest.fixture(scope="module")
def data():
    train, test = _series_data()
    text_train, text_valid, text_test, corpus = _text_data()
    return {
        "series": (train, test),
        "text": (text_train, text_valid, text_test, corpus),
        "pairs": (_pairs(800, 1), _pairs(100, 2), _pairs(60, 3)),
    }


JOBS = {
    "deepar": (
        "forecasting-deepar",
        {
            "time_freq": "H",
            "context_length": str(CONTEXT),
            "prediction_length": str(PREDICTION),
            "epochs": "15",
            "num_cells": "20",
            "num_layers": "1",
            "mini_batch_size": "32",
            "learning_rate": "0.01",
            "likelihood": "gaussian",
            "num_eval_samples": "50",
        },
    ),
    "supervised": (
        "blazingtext",
        {
            "mode": "supervised",
            "epochs": "10",
            "min_count": "1",
            "vector_dim": "20",
            "learning_rate": "0.5",
            "word_ngrams": "2",
            "buckets": "200000",
            "early_stopping": "True",
            "min_epochs": "3",
            "patience": "3",
        },
    ),
    "word2vec": (
        "blazingtext",
        {
            "mode": "skipgram",
            "epochs": "10",
            "min_count": "2",
            "vector_dim": "20",
            "sampling_threshold": "0.001",
            "evaluation": "False",
        },
    ),
    "seq2seq": (
        "seq2seq",
        {
            "max_num_epochs": "4",
            "rnn_num_hidden": "32",
            "num_embed_source": "16",
            "num_embed_target": "16",
            "batch_size": "32",
            "learning_rate": "0.01",
            "checkpoint_frequency_num_batches": "25",
            "beam_size": "3",
            "max_seq_len_source": "20",
            "max_seq_len_target": "20",
        },
    ),
}
#: job → (bad hyperparameters, the name the FailureReason must contain)
BAD = {
    "deepar": ({"likelihood": "poisson"}, "likelihood"),
    "supervised": ({"window_size": "5"}, "window_size"),
    "word2vec": ({"vector_dim": "0"}, "vector_dim"),
    "seq2seq": ({"rnn_num_hidden": "33"}, "rnn_num_hidden"),
}


@pytest.fixture(scope="module")
def trained(e2e, data):
    from sagemaker import image_uris
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import JSONSerializer

    s3 = e2e.server.client("s3")
    bucket, prefix = e2e.bucket, f"algos4-{uuid.uuid4().hex[:6]}"

    def put(key: str, body: bytes) -> str:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
        return f"s3://{bucket}/{prefix}/{key}"

    train, test = data["series"]
    text_train, text_valid, _, corpus = data["text"]
    pairs_train, pairs_valid, _ = data["pairs"]
    labelled = lambda rows: "".join(f"__label__{k} {s}\n" for k, s in rows).encode()  # noqa: E731
    jsonl, text, rec = "application/jsonlines", "text/plain", "application/x-recordio-protobuf"
    channels = {
        "deepar": {
            "train": TrainingInput(put("deepar/train/train.json", _lines(train)), content_type=jsonl),
            "test": TrainingInput(put("deepar/test/test.json", _lines(test)), content_type=jsonl),
        },
        "supervised": {
            "train": TrainingInput(put("bt/train/train.txt", labelled(text_train)), content_type=text),
            "validation": TrainingInput(
                put("bt/validation/valid.txt", labelled(text_valid)), content_type=text
            ),
        },
        "word2vec": {
            "train": TrainingInput(put("w2v/train/corpus.txt", "\n".join(corpus).encode()), content_type=text)
        },
        "seq2seq": {
            "train": TrainingInput(put("s2s/train/train.rec", _records(pairs_train)), content_type=rec),
            "validation": TrainingInput(
                put("s2s/validation/val.rec", _records(pairs_valid)), content_type=rec
            ),
            "vocab": TrainingInput(
                put("s2s/vocab/vocab.src.json", json.dumps(SRC_VOCAB).encode()).rsplit("/", 1)[0] + "/",
                content_type="application/json",
            ),
        },
    }
    put("s2s/vocab/vocab.trg.json", json.dumps(TRG_VOCAB).encode())
    output = f"s3://{bucket}/{prefix}/output"
    estimators, bad_names = {}, {}
    for name, (algorithm, hyperparameters) in JOBS.items():
        image = image_uris.retrieve(algorithm, e2e.region)
        estimator = Estimator(
            image_uri=image,
            role=ROLE,
            instance_count=1,
            instance_type=INSTANCE_TYPE,
            sagemaker_session=e2e.session,
            output_path=output,
            hyperparameters=hyperparameters,
        )
        estimator.fit(channels[name], wait=False, logs=False)
        estimators[name] = estimator
        bad_names[name] = f"algos4-bad-{name}-{uuid.uuid4().hex[:6]}"
        e2e.sm.create_training_job(
            TrainingJobName=bad_names[name],
            RoleArn=ROLE,
            HyperParameters={**hyperparameters, **BAD[name][0]},
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": c, **i.config} for c, i in channels[name].items()],
            OutputDataConfig={"S3OutputPath": output},
            ResourceConfig={"InstanceCount": 1, "InstanceType": INSTANCE_TYPE, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
    e2e.wait_estimators(estimators.values(), timeout=900)
    bad = e2e.wait_jobs(bad_names.values(), timeout=300)
    predictors = {
        name: e2e.deploy(estimator, serializer=JSONSerializer(), deserializer=JSONDeserializer())
        for name, estimator in estimators.items()
    }
    e2e.wait_endpoints(predictors.values(), timeout=300)
    return {
        "estimators": estimators,
        "predictors": predictors,
        "bad": {name: bad[job] for name, job in bad_names.items()},
        "put": put,
        "prefix": prefix,
    }


def _wait_transform(sm, name: str, timeout: float = 300.0) -> dict:
    import time

    deadline = time.time() + timeout
    while True:
        desc = sm.describe_transform_job(TransformJobName=name)
        if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return desc
        assert time.time() < deadline, f"transform job {name} still running"
        time.sleep(0.5)


def _batch_lines(trained, e2e, estimator: str, key: str, body: bytes, **transformer_args) -> list[dict]:
    """Batch transform of one JSON Lines object (``<prefix>/<key>``) with the trained estimator; the
    output's records, after checking the job Completed."""
    folder, name = key.rsplit("/", 2)[0], key.rsplit("/", 1)[1]
    source = trained["put"](key, body)
    transformer = trained["estimators"][estimator].transformer(
        instance_count=1,
        instance_type=INSTANCE_TYPE,
        assemble_with="Line",
        accept="application/jsonlines",
        output_path=f"s3://{e2e.bucket}/{trained['prefix']}/{folder}/batch-out",
        **transformer_args,
    )
    transformer.transform(
        source, content_type="application/jsonlines", split_type="Line", wait=False, logs=False
    )
    desc = _wait_transform(e2e.sm, transformer.latest_transform_job.name)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    out = f"{trained['prefix']}/{folder}/batch-out/{name}.out"
    text = e2e.server.client("s3").get_object(Bucket=e2e.bucket, Key=out)["Body"].read().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _metrics(e2e, estimator) -> dict[str, float]:
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


# ------------------------------------------------------------------------------------------------
# DeepAR


def test_deepar_beats_seasonal_naive_with_calibrated_quantiles(trained, data, e2e):
    train, test = data["series"]
    predictor = trained["predictors"]["deepar"]
    request = {
        "instances": train,
        "configuration": {
            "num_samples": 200,
            "output_types": ["mean", "quantiles"],
            "quantiles": ["0.1", "0.5", "0.9"],
        },
    }
    predictions = predictor.predict(request)["predictions"]
    assert len(predictions) == N_SERIES
    truth = np.array([s["target"][-PREDICTION:] for s in test])
    mean = np.array([p["mean"] for p in predictions])
    q10 = np.array([p["quantiles"]["0.1"] for p in predictions])
    q90 = np.array([p["quantiles"]["0.9"] for p in predictions])
    assert mean.shape == truth.shape and set(predictions[0]) == {"mean", "quantiles"}
    naive = np.array([s["target"][-24:] for s in train])  # the same hours one day earlier
    rmse = float(np.sqrt(np.mean((mean - truth) ** 2)))
    naive_rmse = float(np.sqrt(np.mean((naive - truth) ** 2)))
    assert rmse < 0.9 * naive_rmse, (rmse, naive_rmse)
    coverage = float(np.mean((truth >= q10) & (truth <= q90)))
    assert 0.65 <= coverage <= 0.93, coverage
    assert np.all(q10 <= q90)
    metrics = _metrics(e2e, trained["estimators"]["deepar"])
    assert {"test:RMSE", "test:mean_wQuantileLoss", "train:final_loss"} <= set(metrics), metrics
    assert metrics["test:RMSE"] < naive_rmse


def test_deepar_batch_transform_uses_the_inference_config(trained, data, e2e):
    train, _ = data["series"]
    lines = _batch_lines(
        trained,
        e2e,
        "deepar",
        "deepar/batch/series.json",
        _lines(train[:4]),
        strategy="SingleRecord",
        env={
            "DEEPAR_INFERENCE_CONFIG": json.dumps(
                {"num_samples": 30, "output_types": ["quantiles"], "quantiles": ["0.5"]}
            )
        },
    )
    assert len(lines) == 4
    assert all(set(line) == {"quantiles"} and len(line["quantiles"]["0.5"]) == PREDICTION for line in lines)


def test_deepar_rejects_an_instance_without_target(trained):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="target"):
        trained["predictors"]["deepar"].predict({"instances": [{"start": "2024-01-01 00:00:00"}]})


# ------------------------------------------------------------------------------------------------
# BlazingText


def test_blazingtext_classifier_matches_bag_of_words_logistic_regression(trained, data, e2e):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    text_train, _, text_test, _ = data["text"]
    predictor = trained["predictors"]["supervised"]
    answers = predictor.predict({"instances": [s for _, s in text_test], "configuration": {"k": 2}})
    assert isinstance(answers, list) and len(answers) == len(text_test)
    assert all(len(a["label"]) == 2 and a["prob"][0] >= a["prob"][1] for a in answers)
    accuracy = float(np.mean([a["label"][0] == f"__label__{k}" for a, (k, _) in zip(answers, text_test)]))
    vectorizer = CountVectorizer(token_pattern=r"\S+")
    X = vectorizer.fit_transform([s for _, s in text_train])
    reference = (
        LogisticRegression(max_iter=2000)
        .fit(X, [k for k, _ in text_train])
        .score(vectorizer.transform([s for _, s in text_test]), [k for k, _ in text_test])
    )
    assert accuracy >= reference - 0.02, (accuracy, reference)
    assert _metrics(e2e, trained["estimators"]["supervised"])["validation:accuracy"] >= reference - 0.03


def test_blazingtext_batch_transform_json_lines(trained, data, e2e):
    _, _, text_test, _ = data["text"]
    rows = _lines([{"source": s, "k": 1} for _, s in text_test[:20]])
    lines = _batch_lines(trained, e2e, "supervised", "bt/batch/input.jsonl", rows, strategy="MultiRecord")
    assert len(lines) == 20
    hits = np.mean([line["label"][0] == f"__label__{k}" for line, (k, _) in zip(lines, text_test[:20])])
    assert hits >= 0.8


def test_word2vec_places_co_occurring_words_nearer(trained):
    predictor = trained["predictors"]["word2vec"]
    words = [w for topic in TOPICS for w in topic[:5]]
    answers = predictor.predict({"instances": words + ["never-seen-word"]})
    vectors = {a["word"]: np.array(a["vector"]) for a in answers}
    assert len(vectors[words[0]]) == 20
    assert not vectors["never-seen-word"].any()  # OOV without subwords: zeros

    def cos(a, b):
        return float(vectors[a] @ vectors[b] / (np.linalg.norm(vectors[a]) * np.linalg.norm(vectors[b])))

    same = np.mean([cos(t[i], t[j]) for t in TOPICS for i in range(5) for j in range(i + 1, 5)])
    rng = np.random.default_rng(0)
    cross = []
    for _ in range(40):
        a, b = rng.choice(4, 2, replace=False)
        cross.append(cos(TOPICS[a][rng.integers(5)], TOPICS[b][rng.integers(5)]))
    assert same > float(np.mean(cross)) + 0.2, (same, float(np.mean(cross)))


def test_word2vec_artifacts_are_word2vec_files(trained, e2e):
    import tarfile

    from gensim.models import KeyedVectors

    desc = e2e.sm.describe_training_job(
        TrainingJobName=trained["estimators"]["word2vec"].latest_training_job.name
    )
    uri = desc["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = uri[5:].split("/", 1)
    raw = e2e.server.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = set(tar.getnames())
        text = tar.extractfile("vectors.txt").read().decode()
    assert {"vectors.txt", "vectors.bin"} <= names
    kv = KeyedVectors.load_word2vec_format(io.StringIO(text) if False else _tmp(text), binary=False)
    assert kv.vector_size == 20 and TOPICS[0][0] in kv.key_to_index


def _tmp(text: str) -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    handle.write(text)
    handle.close()
    return handle.name


# ------------------------------------------------------------------------------------------------
# Seq2seq


def test_seq2seq_learns_the_mapping_far_above_chance(trained, data, e2e):
    _, _, pairs_test = data["pairs"]
    predictor = trained["predictors"]["seq2seq"]
    src_words = {i: w for w, i in SRC_VOCAB.items()}
    trg_words = {i: w for w, i in TRG_VOCAB.items()}
    request = {"instances": [{"data": " ".join(src_words[i] for i in s)} for s, _ in pairs_test]}
    request["instances"][0]["configuration"] = {"attention_matrix": "true"}
    predictions = predictor.predict(request)["predictions"]
    assert len(predictions) == len(pairs_test)
    exact = np.mean(
        [p["target"] == " ".join(trg_words[i] for i in t) for p, (_, t) in zip(predictions, pairs_test)]
    )
    assert exact >= 0.5, exact  # chance for a whole sequence is below 1e-3
    matrix = predictions[0]["matrix"]
    assert len(matrix[0]) == len(pairs_test[0][0]) and "matrix" not in predictions[1]
    metrics = _metrics(e2e, trained["estimators"]["seq2seq"])
    assert metrics["validation:accuracy"] > 0.5 and metrics["validation:bleu"] > 30, metrics


def test_seq2seq_recordio_inference(trained, data, e2e):
    from sagemaker.amazon import common, record_pb2

    _, _, pairs_test = data["pairs"]
    buf = io.BytesIO()
    for source, _ in pairs_test[:10]:
        record = record_pb2.Record()
        record.features["source"].int32_tensor.values.extend(source)
        common._write_recordio(buf, record.SerializeToString())
    runtime = e2e.server.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName=trained["predictors"]["seq2seq"].endpoint_name,
        Body=buf.getvalue(),
        ContentType="application/x-recordio-protobuf",
        Accept="application/x-recordio-protobuf",
    )
    records = common.read_records(io.BytesIO(response["Body"].read()))
    targets = [list(r.features["target"].int32_tensor.values) for r in records]
    assert len(targets) == 10
    assert np.mean([got == want for got, (_, want) in zip(targets, pairs_test[:10])]) >= 0.5


def test_seq2seq_batch_transform_json_lines(trained, data, e2e):
    _, _, pairs_test = data["pairs"]
    src_words = {i: w for w, i in SRC_VOCAB.items()}
    trg_words = {i: w for w, i in TRG_VOCAB.items()}
    rows = [{"source": " ".join(src_words[i] for i in s)} for s, _ in pairs_test[:20]]
    lines = _batch_lines(
        trained, e2e, "seq2seq", "s2s/batch/input.jsonl", _lines(rows), strategy="MultiRecord"
    )
    assert len(lines) == 20 and all(set(line) == {"target"} for line in lines)
    expected = [" ".join(trg_words[i] for i in t) for _, t in pairs_test[:20]]
    assert np.mean([line["target"] == want for line, want in zip(lines, expected)]) >= 0.5


# ------------------------------------------------------------------------------------------------
# Bad hyperparameters


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_hyperparameters_fail_naming_them(trained, name):
    desc = trained["bad"][name]
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc.get("FailureReason", "")
    assert reason.startswith("ClientError") and BAD[name][1] in reason, reason
