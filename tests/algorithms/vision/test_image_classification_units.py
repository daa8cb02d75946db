"""Image Classification in a job directory: hyperparameter validation, training on .lst / .rec /
augmented-manifest inputs, the artifact and inference formats (no server; the SDK tests are in
test_image_classification_sdk.py)."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from vision_images import shape_dataset

from jobdir import make_job, metric_values
from sagestack.algorithms import image_classification as ic
from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.image_classification.spec import parse_hyperparameters
from sagestack.algorithms.vision.inputs import ImageRecord, encode_image, pack_rec, ref_path
from sagestack.formats import recordio

BASE = {"num_classes": 3, "num_training_samples": 60, "num_layers": 20, "image_shape": "3,32,32"}
FAST = {**BASE, "epochs": 5, "mini_batch_size": 16, "optimizer": "adam", "learning_rate": 0.01}


@pytest.mark.parametrize(
    "changes,named",
    [
        ({"num_layers": 19}, "num_layers"),
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"augmentation_type": "rotate"}, "augmentation_type"),
        ({"learning_rate": 1.5}, "learning_rate"),
        ({"image_shape": "3,224"}, "image_shape"),
        ({"image_shape": "4,32,32"}, "image_shape"),
        ({"lr_scheduler_step": "a,b"}, "lr_scheduler_step"),
        ({"checkpoint_frequency": 40, "epochs": 30}, "checkpoint_frequency"),
        ({"top_k": 1}, "top_k"),
        ({"top_k": 5}, "top_k"),
        ({"multi_label": 2}, "multi_label"),
        ({"precision_dtype": "int8"}, "precision_dtype"),
        ({"use_pretrained_model": 1}, "use_pretrained_model"),
        ({"mini_batch_size": 0}, "mini_batch_size"),
        ({"kv_store": "local"}, "kv_store"),
        ({"no_such_thing": 1}, "no_such_thing"),
    ],
)
def test_bad_hyperparameters_are_named(changes, named):
    with pytest.raises(AlgorithmClientError, match=named):
        parse_hyperparameters({k: str(v) for k, v in {**BASE, **changes}.items()})


def test_defaults_and_required():
    params = parse_hyperparameters({"num_classes": "2", "num_training_samples": "10"})
    assert (params.num_layers, params.image_shape, params.epochs, params.optimizer) == (
        152,
        (3, 224, 224),
        30,
        "sgd",
    )
    assert (params.learning_rate, params.mini_batch_size, params.weight_decay) == (0.1, 32, 0.0001)
    with pytest.raises(AlgorithmClientError, match="num_training_samples"):
        parse_hyperparameters({"num_classes": "2"})
    assert parse_hyperparameters({**BASE, "lr_scheduler_step": "10, 20"}).lr_scheduler_step == (10, 20)


def test_pretrained_model_failure_says_why():
    with pytest.raises(AlgorithmClientError, match="pretrained ImageNet weights, which cannot be downloaded"):
        parse_hyperparameters({**BASE, "use_pretrained_model": "1"})


def _data(count, seed):
    images, labels = shape_dataset(count, size=32, seed=seed)
    return [encode_image(im) for im in images], labels


def _lst_channels(count, seed):
    images, labels = _data(count, seed)
    files = {f"img/{i}.png": data for i, data in enumerate(images)}
    lst = "".join(f"{i}\t{label}\timg/{i}.png\n" for i, label in enumerate(labels)).encode()
    return files, {"data.lst": lst}


def _rec(count, seed):
    images, labels = _data(count, seed)
    return recordio.frame(
        pack_rec(ImageRecord(str(i), im, (float(lab),)), i) for i, (im, lab) in enumerate(zip(images, labels))
    )


@pytest.mark.slow
def test_trains_on_lst_images_and_serves(tmp_path, capsys):
    train_files, train_lst = _lst_channels(90, 1)
    valid_files, valid_lst = _lst_channels(30, 2)
    env = make_job(
        tmp_path,
        {
            **FAST,
            "epochs": 6,
            "resize": 32,
            "augmentation_type": "crop",
            "top_k": 2,
            "checkpoint_frequency": 3,
        },
        {
            "train": train_files,
            "train_lst": train_lst,
            "validation": valid_files,
            "validation_lst": valid_lst,
        },
        {"train": "application/x-image", "validation": "image/png", "train_lst": "application/x-image"},
    )
    ic.train(env)
    out = capsys.readouterr().out
    metrics = metric_values(out, ic.SPEC)
    assert metrics["validation:accuracy"] > 0.55, out  # chance: 1/3
    assert "Epoch[5] Train-top_k_accuracy_2=" in out
    assert (env.model_dir / "image-classification-0006.params").is_file()
    model = ic.load_model(env.model_dir)
    test_images, test_labels = _data(12, 3)
    body, ctype = ic.predict(model, test_images[0], "image/png", "application/json")
    probs = json.loads(body)
    assert ctype == "application/json" and len(probs) == 3 and abs(sum(probs) - 1) < 1e-4
    hits = [
        int(np.argmax(json.loads(ic.predict(model, im, "application/x-image", "")[0]))) for im in test_images
    ]
    assert np.mean(np.array(hits) == np.array(test_labels)) > 0.5
    line, ctype = ic.predict(model, test_images[1], "image/png", "application/jsonlines")
    assert ctype == "application/jsonlines" and len(json.loads(line)["prediction"]) == 3
    with pytest.raises(InferenceError) as bad:
        ic.predict(model, b"not an image", "image/jpeg", "application/json")
    assert bad.value.status == 400
    with pytest.raises(InferenceError) as unsupported:
        ic.predict(model, test_images[0], "text/csv", "application/json")
    assert unsupported.value.status == 415


@pytest.mark.slow
def test_trains_on_rec_files_then_fine_tunes_from_the_model_channel(tmp_path, capsys):
    hps = {
        **FAST, "epochs": 3, "lr_scheduler_step": "1", "optimizer": "nag", "learning_rate": 0.05,
        "precision_dtype": "float16", "use_weighted_loss": 1, "early_stopping": "True",
        "early_stopping_min_epochs": 1, "early_stopping_patience": 1, "early_stopping_tolerance": 0.99,
    }  # fmt: skip
    data = {"train": {"train.rec": _rec(30, 1)}, "validation": {"val.rec": _rec(15, 2)}}
    types = {"train": "application/x-recordio", "validation": "application/x-recordio"}
    env = make_job(tmp_path / "first", hps, data, types)
    ic.train(env)
    out = capsys.readouterr().out
    assert "validation:accuracy" in metric_values(out, ic.SPEC)
    assert "Early stopping after epoch 1" in out and "Epoch[2]" not in out  # tolerance 99 %: no improvement
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in env.model_dir.iterdir():
            tar.add(path, arcname=path.name)
    tuned = make_job(
        tmp_path / "second",
        {**FAST, "epochs": 1},
        {**data, "model": {"model.tar.gz": archive.getvalue()}},
        {**types, "model": "application/x-sagemaker-model"},
    )
    ic.train(tuned)
    assert "Initialised from the model channel's model.tar.gz" in capsys.readouterr().out
    mismatched = make_job(
        tmp_path / "third",
        {**FAST, "epochs": 1, "num_classes": 4},
        {**data, "model": {"model.tar.gz": archive.getvalue()}},
        {**types, "model": "application/x-sagemaker-model"},
    )
    with pytest.raises(AlgorithmClientError, match="num_classes=3, but the job sets num_classes=4"):
        ic.train(mismatched)


@pytest.mark.slow
def test_trains_on_augmented_manifest_multi_label(tmp_path, capsys):
    images, labels = _data(24, 4)
    files, lines = {}, []
    for i, (data, label) in enumerate(zip(images, labels)):
        uri = f"s3://bucket/imgs/{i}.png"
        files[str(ref_path("", uri))] = data
        hot = [1 if c == label else 0 for c in range(3)]
        lines.append(json.dumps({"source-ref": uri, "labels": hot, "labels-metadata": {}}))
    files["train.manifest"] = ("\n".join(lines) + "\n").encode()
    env = make_job(
        tmp_path,
        {**FAST, "epochs": 1, "multi_label": 1},
        {"train": files, "validation": dict(files)},
        {"train": "application/x-recordio", "validation": "application/x-recordio"},
    )
    ic.train(env)
    out = capsys.readouterr().out
    assert "Epoch[0] Validation-accuracy=" in out
    model = ic.load_model(env.model_dir)
    probs = json.loads(ic.predict(model, images[0], "image/png", "application/json")[0])
    assert len(probs) == 3 and all(0 <= p <= 1 for p in probs)


def test_bad_inputs_fail_with_client_errors(tmp_path):
    train_files, train_lst = _lst_channels(6, 1)
    env = make_job(
        tmp_path / "a",
        {**FAST},
        {
            "train": train_files,
            "train_lst": train_lst,
            "validation": train_files,
            "validation_lst": train_lst,
        },
        {"train": "application/x-image", "validation": "application/x-image"},
    )
    with pytest.raises(AlgorithmClientError, match="resize is required"):
        ic.train(env)
    bad_lst = {"data.lst": b"0\t7\timg/0.png\n"}
    env = make_job(
        tmp_path / "b",
        {**FAST, "resize": 32},
        {"train": train_files, "train_lst": bad_lst, "validation": train_files, "validation_lst": train_lst},
        {"train": "application/x-image", "validation": "application/x-image"},
    )
    with pytest.raises(AlgorithmClientError, match="label 7 is not a class id"):
        ic.train(env)
    env = make_job(tmp_path / "c", {**FAST}, {"train": {"train.rec": _rec(4, 1)}})
    with pytest.raises(AlgorithmClientError, match="validation channel is required"):
        ic.train(env)
