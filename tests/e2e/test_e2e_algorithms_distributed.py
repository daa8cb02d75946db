"""DeepAR and BlazingText batch_skipgram on two instances train one model across both hosts (real server).

The train channel holds two objects with ``ShardedByS3Key``, so ``algo-1`` sees only series of shape
A (a weekly sine) and ``algo-2`` only series of shape B (a weekly spike). The two-instance model
forecasts B's held-out week far better than a one-instance model trained on A's object alone, and it
still forecasts A; the one-instance job trains as before. BlazingText ``batch_skipgram`` likewise:
each host reads two of four topics, the vectors hold all four topics' words, each topic tight.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE

pytestmark = pytest.mark.slow

PREDICTION = 7
HYPERPARAMETERS = {
    "time_freq": "D",
    "context_length": "14",
    "prediction_length": str(PREDICTION),
    "epochs": "8",
    "num_cells": "16",
    "num_layers": "1",
    "mini_batch_size": "32",
    "learning_rate": "0.01",
}


def _group(kind: str, seed: int, n: int = 6, length: int = 120) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    rows = []
    for _ in range(n):
        if kind == "a":
            y = 10 + 3 * np.sin(2 * np.pi * t / 7)
        else:
            y = 10 + 8 * ((t % 7) == 3) - 2 * ((t % 7) == 5)
        y = y + rng.normal(0, 0.2, length)
        rows.append({"start": "2022-01-03 00:00:00", "target": y.round(3).tolist()})
    return rows


def _lines(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _model(s3, uri: str, tmp_path):
    from sagestack.algorithms import deepar

    bucket, key = uri[5:].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path, filter="data")
    return deepar.load_model(tmp_path), names


def _error(model, rows) -> float:
    from sagestack.algorithms import deepar

    errors = []
    for row in rows:
        history = {"start": row["start"], "target": row["target"][:-PREDICTION]}
        request = {"instances": [history], "configuration": {"num_samples": 50, "output_types": ["mean"]}}
        body, _ = deepar.predict(model, json.dumps(request).encode(), "application/json", "application/json")
        mean = np.array(json.loads(body)["predictions"][0]["mean"])
        errors.append(np.abs(mean - np.array(row["target"][-PREDICTION:])).mean())
    return float(np.mean(errors))


def test_two_instances_train_one_model_from_both_shards(e2e, tmp_path):
    from sagemaker import image_uris

    s3 = e2e.server.client("s3")
    prefix = f"deepar-ddp-{uuid.uuid4().hex[:6]}"
    for name, rows in (("a.json", _group("a", 0)), ("b.json", _group("b", 1))):
        s3.put_object(Bucket=e2e.bucket, Key=f"{prefix}/train/{name}", Body=_lines(rows))
    image = image_uris.retrieve("forecasting-deepar", e2e.region)

    def create(name: str, uri: str, count: int, distribution: str) -> str:
        e2e.sm.create_training_job(
            TrainingJobName=name,
            RoleArn=ROLE,
            HyperParameters=HYPERPARAMETERS,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "ContentType": "application/jsonlines",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": distribution,
                        }
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{e2e.bucket}/{prefix}/output"},
            ResourceConfig={"InstanceCount": count, "InstanceType": INSTANCE_TYPE, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 900},
        )
        return name

    train = f"s3://{e2e.bucket}/{prefix}/train/"
    both = create(f"deepar-ddp-{uuid.uuid4().hex[:6]}", train, 2, "ShardedByS3Key")
    alone = create(f"deepar-one-{uuid.uuid4().hex[:6]}", train + "a.json", 1, "FullyReplicated")
    done = e2e.wait_jobs([both, alone], timeout=600)
    for name in (both, alone):
        assert done[name]["TrainingJobStatus"] == "Completed", done[name].get("FailureReason")
        metrics = {m["MetricName"]: m["Value"] for m in done[name].get("FinalMetricDataList", [])}
        assert np.isfinite(metrics["train:final_loss"])
    assert done[both]["ResourceConfig"]["InstanceCount"] == 2

    (tmp_path / "both").mkdir()
    (tmp_path / "alone").mkdir()
    joint, names = _model(s3, done[both]["ModelArtifacts"]["S3ModelArtifacts"], tmp_path / "both")
    single, _ = _model(s3, done[alone]["ModelArtifacts"]["S3ModelArtifacts"], tmp_path / "alone")
    assert sorted(n.lstrip("./") for n in names if n.strip("./")) == ["model_algo-1.json", "model_algo-1.pt"]

    held_out_a, held_out_b = _group("a", 5), _group("b", 6)
    joint_b, single_b = _error(joint, held_out_b), _error(single, held_out_b)
    # B's series were seen only by algo-2: the joint model learnt them, host 1's shard alone did not
    assert joint_b < 0.5 * single_b, (joint_b, single_b)
    # and the joint model still forecasts A (algo-1's shard) about as well as the A-only model
    joint_a, single_a = _error(joint, held_out_a), _error(single, held_out_a)
    assert joint_a < max(2.0 * single_a, 0.5), (joint_a, single_a)

    # the metrics are logged once (by algo-1): algo-2's log stream has the epochs but no metric lines
    logs = e2e.server.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=both)
    texts = [
        "\n".join(
            e["message"]
            for e in logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
            )["events"]
        )
        for stream in streams["logStreams"]
    ]
    assert len(texts) == 2, [s["logStreamName"] for s in streams["logStreams"]]
    texts.sort(key=lambda text: "#quality_metric" in text)
    assert "#quality_metric" not in texts[0] and "Epoch[7]" in texts[0]
    assert texts[1].count("train final_loss") == 1


TOPICS = [[f"t{k}w{i}" for i in range(8)] for k in range(4)]


def _corpus(topics: list[int], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    lines = [" ".join(str(rng.choice(TOPICS[k])) for _ in range(10)) for k in rng.choice(topics, 400)]
    return "\n".join(lines).encode()


def test_batch_skipgram_on_two_instances_trains_one_vocabulary(e2e, tmp_path):
    from gensim.models import KeyedVectors
    from sagemaker import image_uris

    s3 = e2e.server.client("s3")
    prefix = f"bt-ddp-{uuid.uuid4().hex[:6]}"
    s3.put_object(Bucket=e2e.bucket, Key=f"{prefix}/train/a.txt", Body=_corpus([0, 1], 0))
    s3.put_object(Bucket=e2e.bucket, Key=f"{prefix}/train/b.txt", Body=_corpus([2, 3], 1))
    name = f"bt-ddp-{uuid.uuid4().hex[:6]}"
    e2e.sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        HyperParameters={
            "mode": "batch_skipgram",
            "min_count": "1",
            "vector_dim": "16",
            "epochs": "15",
            "window_size": "3",
            "sampling_threshold": "0.001",
        },
        AlgorithmSpecification={
            "TrainingImage": image_uris.retrieve("blazingtext", e2e.region),
            "TrainingInputMode": "File",
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/plain",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{e2e.bucket}/{prefix}/train/",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{e2e.bucket}/{prefix}/output"},
        ResourceConfig={"InstanceCount": 2, "InstanceType": INSTANCE_TYPE, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
    )
    desc = e2e.wait_jobs([name], timeout=600)[name]
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    bucket, key = desc["ModelArtifacts"]["S3ModelArtifacts"][5:].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        tar.extractall(tmp_path, filter="data")
    vectors = KeyedVectors.load_word2vec_format(str(tmp_path / "vectors.txt"))
    assert set(vectors.index_to_key) == {w for topic in TOPICS for w in topic}  # both shards' words
    for k, topic in enumerate(TOPICS):
        same = np.mean([vectors.similarity(a, b) for a in topic for b in topic if a != b])
        other = np.mean(
            [vectors.similarity(a, b) for j, t in enumerate(TOPICS) if j != k for a in topic for b in t]
        )
        assert same > other + 0.2, (k, same, other)
