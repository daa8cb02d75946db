"""SDK v2 ``RandomCutForest``, ``LDA``, ``NTM``, ``IPInsights`` and ``Object2Vec``: ``fit`` → ``deploy()`` →
``predict()`` with each estimator's default serializers (Object2Vec's generic ``Predictor`` gets the JSON
serializer/deserializer, as AWS's Object2Vec notebooks set), checked against references on the same
synthetic data: scikit-learn's IsolationForest (RCF) and LatentDirichletAllocation (LDA), the planted
topics (NTM), random pairs (IP Insights) and dissimilar pairs (Object2Vec).

All five jobs start before any is waited for, and all five endpoints likewise. Also: two jobs with bad
hyperparameters must end Failed naming them; IP Insights and Object2Vec batch transforms (JSON Lines out);
a HyperparameterTuner over RandomCutForest with the ``test:f1`` objective.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE, record_values

pytestmark = pytest.mark.slow

VOCAB, TOPICS, DOCS, DOC_LENGTH = 30, 3, 1000, 40
USERS = 100


@dataclass
class Data:
    rcf_train: np.ndarray
    rcf_test: np.ndarray
    rcf_labels: np.ndarray
    counts: np.ndarray
    theta: np.ndarray
    beta: np.ndarray
    ip_train: list[tuple[str, str]]
    ip_seen: list[tuple[str, str]]
    ip_random: list[tuple[str, str]]
    o2v_train: list[dict]
    o2v_test: list[dict]


def _topics(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents drawn from planted topics over disjoint blocks of the vocabulary."""
    beta = np.full((TOPICS, VOCAB), 0.02 / VOCAB)
    block = VOCAB // TOPICS
    for t in range(TOPICS):
        beta[t, t * block : (t + 1) * block] += 0.98 / block
    beta /= beta.sum(axis=1, keepdims=True)
    theta = rng.dirichlet(np.full(TOPICS, 0.1), size=DOCS)
    counts = np.stack([rng.multinomial(DOC_LENGTH, t @ beta) for t in theta]).astype(np.float32)
    return counts, theta, beta


def _ip_data(rng: np.random.Generator) -> tuple[list, list, list]:
    """Each user logs in from two home /24 subnets."""
    homes = {u: [f"10.{rng.integers(0, 256)}.{rng.integers(0, 256)}" for _ in range(2)] for u in range(USERS)}

    def seen(n: int) -> list[tuple[str, str]]:
        users = rng.integers(0, USERS, size=n)
        return [(f"user_{u}", f"{homes[u][rng.integers(0, 2)]}.{rng.integers(1, 255)}") for u in users]

    randoms = [
        (f"user_{u}", ".".join(str(int(x)) for x in rng.integers(1, 224, size=4)))
        for u in rng.integers(0, USERS, size=200)
    ]
    return seen(5000), seen(200), randoms


def _o2v_pairs(rng: np.random.Generator, n: int) -> list[dict]:
    """Token sequences from three groups of 10 tokens; a pair is similar (1) when both share a group."""
    rows = []
    for _ in range(n):
        g0 = int(rng.integers(0, 3))
        similar = bool(rng.random() < 0.5)
        g1 = g0 if similar else (g0 + int(rng.integers(1, 3))) % 3
        rows.append(
            {
                "label": int(similar),
                "in0": (g0 * 10 + rng.integers(0, 10, size=rng.integers(2, 6))).tolist(),
                "in1": (g1 * 10 + rng.integers(0, 10, size=rng.integers(2, 6))).tolist(),
            }
        )
    return rows


@pytest.fixture(scope="module")
def data() -> Data:
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(3000, 4)).astype(np.float32)
    anomalies = (rng.normal(scale=0.5, size=(30, 4)) + rng.choice([-5, 5], size=(30, 4))).astype(np.float32)
    train = np.vstack([normal[:2500], anomalies[:10]])
    test = np.vstack([normal[2500:], anomalies[10:]])
    labels = np.r_[np.zeros(500), np.ones(20)].astype(np.float32)
    counts, theta, beta = _topics(rng)
    ip_train, ip_seen, ip_random = _ip_data(rng)
    return Data(
        train,
        test,
        labels,
        counts,
        theta,
        beta,
        ip_train,
        ip_seen,
        ip_random,
        _o2v_pairs(rng, 2000),
        _o2v_pairs(rng, 300),
    )


def _upload(e2e, key: str, body: bytes) -> str:
    e2e.server.client("s3").put_object(Bucket=e2e.bucket, Key=key, Body=body)
    return f"s3://{e2e.bucket}/{key.rsplit('/', 1)[0]}/"


@pytest.fixture(scope="module")
def predictors(e2e, data) -> dict[str, Any]:
    from sagemaker import LDA, NTM, IPInsights, Object2Vec, RandomCutForest
    from sagemaker.amazon.amazon_estimator import RecordSet

    common = {
        "role": ROLE,
        "instance_count": 1,
        "instance_type": INSTANCE_TYPE,
        "sagemaker_session": e2e.session,
    }
    estimators = {
        "rcf": RandomCutForest(num_trees=100, num_samples_per_tree=256, **common),
        "lda": LDA(num_topics=TOPICS, alpha0=0.3, **common),
        "ntm": NTM(num_topics=TOPICS, epochs=30, optimizer="adam", learning_rate=0.01, **common),
        "ipinsights": IPInsights(
            num_entity_vectors=2 * USERS, vector_dim=16, epochs=8, learning_rate=0.01, **common
        ),
        "object2vec": Object2Vec(
            epochs=10,
            enc0_max_seq_len=8,
            enc0_vocab_size=30,
            enc0_network="pooled_embedding",
            enc_dim=16,
            mlp_dim=16,
            enc0_token_embedding_dim=8,
            enc1_token_embedding_dim=8,
            learning_rate=0.01,
            **common,
        ),
    }
    rcf = estimators["rcf"]
    ip_csv = "".join(f"{e},{ip}\n" for e, ip in data.ip_train).encode()
    o2v = "".join(json.dumps(r) + "\n" for r in data.o2v_train).encode()
    o2v_val = "".join(json.dumps(r) + "\n" for r in data.o2v_test).encode()
    inputs = {
        "rcf": [
            rcf.record_set(data.rcf_train),
            rcf.record_set(data.rcf_test, data.rcf_labels, channel="test"),
        ],
        "lda": estimators["lda"].record_set(data.counts),
        "ntm": estimators["ntm"].record_set(data.counts),
        # IP Insights and Object2Vec read CSV / JSON Lines from S3: RecordSets over S3 prefixes
        "ipinsights": [
            RecordSet(
                _upload(e2e, "algos3/ip/train/pairs.csv", ip_csv), len(data.ip_train), 2, "S3Prefix", "train"
            )
        ],
        "object2vec": [
            RecordSet(
                _upload(e2e, "algos3/o2v/train/pairs.jsonl", o2v), len(data.o2v_train), 2, "S3Prefix", "train"
            ),
            RecordSet(
                _upload(e2e, "algos3/o2v/validation/pairs.jsonl", o2v_val),
                len(data.o2v_test),
                2,
                "S3Prefix",
                "validation",
            ),
        ],
    }
    batch = {"lda": DOCS, "ntm": 64, "ipinsights": 250, "object2vec": 32}
    for name, estimator in estimators.items():
        estimator.fit(inputs[name], mini_batch_size=batch.get(name), wait=False, logs=False)
    e2e.wait_estimators(estimators.values(), timeout=300)
    deployed = {name: e2e.deploy(estimator) for name, estimator in estimators.items()}
    e2e.wait_endpoints(deployed.values())
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.serializers import JSONSerializer

    deployed["object2vec"].serializer = JSONSerializer()
    deployed["object2vec"].deserializer = JSONDeserializer()
    deployed["_estimators"] = estimators
    return deployed


def _final_metrics(e2e, estimator) -> dict[str, float]:
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


@pytest.mark.sdk_flow("flow02", "RandomCutForest: record_set, fit, deploy, predict")
def test_rcf_separates_anomalies_as_well_as_isolation_forest(e2e, predictors, data):
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    records = predictors["rcf"].predict(data.rcf_test)
    scores = np.array(record_values(records, "score")).ravel()
    assert scores.shape == (len(data.rcf_test),)
    auc = roc_auc_score(data.rcf_labels, scores)
    reference = IsolationForest(random_state=0).fit(data.rcf_train)
    reference_auc = roc_auc_score(data.rcf_labels, -reference.score_samples(data.rcf_test))
    assert auc >= reference_auc - 0.01, (auc, reference_auc)
    # typical points score near 1, anomalies well above mean + 3 std of the normal scores
    normal = scores[data.rcf_labels == 0]
    assert 0.3 < float(np.median(normal)) < 3.0
    assert (scores[data.rcf_labels == 1] > normal.mean() + 3 * normal.std()).mean() >= 0.9
    metrics = _final_metrics(e2e, predictors["_estimators"]["rcf"])
    assert metrics.get("test:f1", 0) >= 0.8, metrics


def _matched_accuracy(estimate: np.ndarray, theta: np.ndarray) -> float:
    """Documents whose dominant topic matches the planted one, under the best topic matching."""
    from scipy.optimize import linear_sum_assignment

    k = theta.shape[1]
    confusion = np.zeros((k, estimate.shape[1]))
    for true, got in zip(theta.argmax(axis=1), estimate.argmax(axis=1)):
        confusion[true, got] += 1
    rows, cols = linear_sum_assignment(-confusion)
    return float(confusion[rows, cols].sum() / len(theta))


@pytest.mark.sdk_flow("flow02", "LDA: record_set, fit, deploy, predict")
def test_lda_recovers_planted_topics_as_well_as_sklearn(predictors, data):
    from sklearn.decomposition import LatentDirichletAllocation

    records = predictors["lda"].predict(data.counts)
    mixtures = np.array(record_values(records, "topic_mixture"))
    assert mixtures.shape == (DOCS, TOPICS)
    assert np.allclose(mixtures.sum(axis=1), 1.0, atol=1e-4)
    accuracy = _matched_accuracy(mixtures, data.theta)
    reference = LatentDirichletAllocation(TOPICS, random_state=0).fit(data.counts)
    reference_accuracy = _matched_accuracy(reference.transform(data.counts), data.theta)
    assert accuracy >= reference_accuracy - 0.02, (accuracy, reference_accuracy)


@pytest.mark.sdk_flow("flow02", "NTM: record_set, fit, deploy, predict")
def test_ntm_groups_documents_by_planted_topic(predictors, data):
    records = predictors["ntm"].predict(data.counts)
    weights = np.array(record_values(records, "topic_weights"))
    assert weights.shape == (DOCS, TOPICS)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-4)
    assert _matched_accuracy(weights, data.theta) >= 0.85


@pytest.mark.sdk_flow("flow02", "IPInsights: fit, deploy, predict (CSV in, JSON out)")
def test_ip_insights_scores_seen_pairs_above_random_ones(predictors, data):
    from sklearn.metrics import roc_auc_score

    predictor = predictors["ipinsights"]
    answer = predictor.predict([list(p) for p in data.ip_seen + data.ip_random])
    scores = np.array([p["dot_product"] for p in answer["predictions"]])
    labels = np.r_[np.ones(len(data.ip_seen)), np.zeros(len(data.ip_random))]
    assert roc_auc_score(labels, scores) >= 0.95
    verbose = predictor.predict(
        [list(data.ip_seen[0])], initial_args={"Accept": "application/json; verbose=True"}
    )
    (row,) = verbose["predictions"]
    assert len(row["entity_embedding"]) == len(row["ip_embedding"]) == 16
    assert np.isclose(np.dot(row["entity_embedding"], row["ip_embedding"]), row["dot_product"], rtol=1e-4)


@pytest.mark.sdk_flow("flow02", "Object2Vec: fit, deploy, predict pairs and encoder embeddings")
def test_object2vec_separates_similar_from_dissimilar_pairs(e2e, predictors, data):
    predictor = predictors["object2vec"]
    pairs = [{"in0": r["in0"], "in1": r["in1"]} for r in data.o2v_test]
    answer = predictor.predict({"instances": pairs})
    scores = np.array([p["scores"] for p in answer["predictions"]])
    assert scores.shape == (len(pairs), 2)
    labels = np.array([r["label"] for r in data.o2v_test])
    assert ((scores[:, 1] > 0.5) == labels).mean() >= 0.9
    embeddings = predictor.predict(
        {"instances": [{"in0": [1, 2]}, {"in0": [25]}]},
        initial_args={"ContentType": "application/json; infer_max_seqlens=8,8"},
    )
    vectors = [p["embeddings"] for p in embeddings["predictions"]]
    assert len(vectors) == 2 and all(len(v) == 16 for v in vectors)
    metrics = _final_metrics(e2e, predictors["_estimators"]["object2vec"])
    assert metrics.get("validation:accuracy", 0) >= 0.9, metrics


@pytest.mark.sdk_flow("flow02", "Amazon estimators: bad hyperparameters fail the job naming them")
def test_bad_hyperparameters_fail_naming_them(e2e):
    from sagemaker import image_uris

    rng = np.random.default_rng(1)
    rows = "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in rng.normal(size=(50, 3)))
    uri = _upload(e2e, "algos3/bad/train/data.csv", rows.encode())
    cases = {
        "randomcutforest": ({"feature_dim": "3", "num_trees": "10"}, "num_trees"),
        "ntm": (
            {"feature_dim": "3", "num_topics": "2", "encoder_layers_activation": "softplus"},
            "encoder_layers_activation",
        ),
    }
    names = {}
    for algorithm, (hyperparameters, culprit) in cases.items():
        name = f"algos3-bad-{algorithm}-{rng.integers(1 << 30)}"
        e2e.sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={
                "TrainingImage": image_uris.retrieve(algorithm, e2e.region),
                "TrainingInputMode": "File",
            },
            RoleArn=ROLE,
            HyperParameters=hyperparameters,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "ShardedByS3Key",
                        }
                    },
                    "ContentType": "text/csv;label_size=0",
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{e2e.bucket}/algos3/bad/output"},
            ResourceConfig={"InstanceType": INSTANCE_TYPE, "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        names[name] = culprit
    for name, desc in e2e.wait_jobs(names).items():
        assert desc["TrainingJobStatus"] == "Failed", (name, desc["TrainingJobStatus"])
        assert names[name] in desc["FailureReason"], desc["FailureReason"]


def _wait_transforms(e2e, names: list[str], timeout: float = 240.0) -> None:
    import time

    deadline = time.time() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            desc = e2e.sm.describe_transform_job(TransformJobName=name)
            if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
                assert desc["TransformJobStatus"] == "Completed", (name, desc.get("FailureReason"))
                pending.discard(name)
        assert time.time() < deadline, f"transform jobs still running: {sorted(pending)}"
        time.sleep(0.25)


@pytest.mark.sdk_flow("flow02", "IPInsights and Object2Vec: transformer().transform in JSON Lines")
def test_batch_transform_scores_pairs_line_by_line(e2e, predictors, data):
    estimators = predictors["_estimators"]
    s3 = e2e.server.client("s3")
    ip_rows = data.ip_seen[:20] + data.ip_random[:20]
    pairs = [{"in0": r["in0"], "in1": r["in1"]} for r in data.o2v_test[:40]]
    inputs = {
        "ipinsights": (
            _upload(e2e, "algos3/bt/ip/in/pairs.csv", "".join(f"{e},{ip}\n" for e, ip in ip_rows).encode()),
            "text/csv",
        ),
        "object2vec": (
            _upload(
                e2e, "algos3/bt/o2v/in/pairs.jsonl", "".join(json.dumps(p) + "\n" for p in pairs).encode()
            ),
            "application/jsonlines",
        ),
    }
    transformers = {}
    for name, (uri, content_type) in inputs.items():
        transformer = estimators[name].transformer(
            instance_count=1,
            instance_type=INSTANCE_TYPE,
            strategy="MultiRecord",
            assemble_with="Line",
            accept="application/jsonlines",
            output_path=f"s3://{e2e.bucket}/algos3/bt/{name}/out",
        )
        transformer.transform(uri, content_type=content_type, split_type="Line", wait=False, logs=False)
        transformers[name] = transformer
    _wait_transforms(e2e, [t.latest_transform_job.name for t in transformers.values()])
    outputs = {}
    for name in inputs:
        listing = s3.list_objects_v2(Bucket=e2e.bucket, Prefix=f"algos3/bt/{name}/out/")
        (obj,) = [o for o in listing.get("Contents", []) if o["Key"].endswith(".out")]
        body = s3.get_object(Bucket=e2e.bucket, Key=obj["Key"])["Body"].read().decode()
        outputs[name] = [json.loads(line) for line in body.splitlines() if line.strip()]
    dots = np.array([row["dot_product"] for row in outputs["ipinsights"]])
    assert dots.shape == (40,) and dots[:20].mean() > dots[20:].mean()
    scores = np.array([row["scores"] for row in outputs["object2vec"]])
    labels = np.array([r["label"] for r in data.o2v_test[:40]])
    assert scores.shape == (40, 2) and ((scores[:, 1] > 0.5) == labels).mean() >= 0.85


@pytest.mark.sdk_flow("flow02", "HyperparameterTuner over RandomCutForest with the test:f1 objective")
def test_tuner_maximises_rcf_test_f1(e2e, data):
    import time

    from sagemaker import RandomCutForest
    from sagemaker.tuner import HyperparameterTuner, IntegerParameter

    rcf = RandomCutForest(
        role=ROLE, instance_count=1, instance_type=INSTANCE_TYPE, sagemaker_session=e2e.session, num_trees=50
    )
    records = [rcf.record_set(data.rcf_train), rcf.record_set(data.rcf_test, data.rcf_labels, channel="test")]
    tuner = HyperparameterTuner(
        rcf,
        "test:f1",
        {"num_samples_per_tree": IntegerParameter(32, 512)},
        objective_type="Maximize",
        max_jobs=2,
        max_parallel_jobs=2,
        strategy="Random",
    )
    tuner.fit(records, wait=False)
    name = tuner.latest_tuning_job.name
    deadline = time.time() + 300
    while True:
        desc = e2e.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if desc["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            break
        assert time.time() < deadline, "tuning job still running"
        time.sleep(0.5)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    best = desc["BestTrainingJob"]
    objective = best["FinalHyperParameterTuningJobObjectiveMetric"]
    assert objective["MetricName"] == "test:f1" and objective["Value"] >= 0.8
    assert 32 <= int(best["TunedHyperParameters"]["num_samples_per_tree"]) <= 512
