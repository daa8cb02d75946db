"""Object Detection's and Semantic Segmentation's pieces without a training run: anchors, box coding,
NMS and mAP; the three label shapes of detection; masks and label maps; hyperparameter validation;
the segmentation probability Record as the SDK reads it."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from dense_scenes import annotation_json, mask_png, scenes
from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.object_detection import boxes, labels
from sagestack.algorithms.object_detection.network import SSD, multibox_loss
from sagestack.algorithms.object_detection.spec import parse_hyperparameters as od_hps
from sagestack.algorithms.semantic_segmentation.masks import LabelMap, check_classes, decode_mask, encode_mask
from sagestack.algorithms.semantic_segmentation.network import SegmentationNetwork
from sagestack.algorithms.semantic_segmentation.serving import probability_record
from sagestack.algorithms.semantic_segmentation.spec import parse_hyperparameters as ss_hps
from sagestack.algorithms.semantic_segmentation.training import confusion, scores

OD = {"num_classes": "2", "num_training_samples": "10", "use_pretrained_model": "0"}
SS = {"num_classes": "3", "num_training_samples": "10", "use_pretrained_model": "False"}


# ------------------------------------------------------------------------------------------------
# Boxes


def test_anchors_cover_each_cell_and_stay_inside_the_image():
    anchors = boxes.make_anchors([4, 2, 1])
    assert anchors.shape == ((16 + 4 + 1) * boxes.ANCHORS_PER_CELL, 4)
    assert float(anchors.min()) >= 0.0 and float(anchors.max()) <= 1.0
    assert torch.all(anchors[:, 2:] > anchors[:, :2])


def test_encode_decode_round_trip():
    anchors = boxes.make_anchors([3])
    truth = torch.tensor([[0.1, 0.2, 0.5, 0.6]]).expand(anchors.shape[0], -1)
    back = boxes.decode(boxes.encode(truth, anchors), anchors)
    assert torch.allclose(back, truth, atol=1e-5)


def test_iou_and_matching():
    a = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    b = torch.tensor([[0.0, 0.0, 0.5, 0.25]])
    assert torch.allclose(boxes.iou(a, b), torch.tensor([[0.5], [0.0]]))
    anchors = boxes.make_anchors([2])
    labels_, targets = boxes.match(torch.tensor([[0.05, 0.05, 0.45, 0.45]]), torch.tensor([1]), anchors, 0.5)
    assert labels_.max() == 2 and (labels_ > 0).sum() >= 1  # class 1 → label 2; background 0
    assert targets.shape == (anchors.shape[0], 4)


def test_nms_keeps_the_best_of_overlapping_boxes_per_class():
    b = torch.tensor(
        [[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.52], [0.6, 0.6, 0.9, 0.9], [0.1, 0.1, 0.5, 0.5]]
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    classes = torch.tensor([0, 0, 0, 1])
    kept = boxes.batched_nms(b, scores, classes, 0.45).tolist()
    assert kept == [0, 2, 3]  # the second box is suppressed; the class-1 twin of the first is kept


def test_mean_average_precision():
    truth = [np.array([[0, 0.1, 0.1, 0.4, 0.4], [1, 0.5, 0.5, 0.9, 0.9]], dtype=np.float32)]
    perfect = [np.array([[0, 0.9, 0.1, 0.1, 0.4, 0.4], [1, 0.8, 0.5, 0.5, 0.9, 0.9]], dtype=np.float32)]
    assert boxes.mean_average_precision(perfect, truth, 2) == pytest.approx(1.0)
    wrong_class = [np.array([[1, 0.9, 0.1, 0.1, 0.4, 0.4]], dtype=np.float32)]
    assert boxes.mean_average_precision(wrong_class, truth, 2) == pytest.approx(0.0)
    half = [np.array([[0, 0.9, 0.1, 0.1, 0.4, 0.4]], dtype=np.float32)]
    assert boxes.mean_average_precision(half, truth, 2) == pytest.approx(0.5)


def test_ssd_outputs_one_row_per_anchor_and_a_finite_loss():
    network = SSD("vgg-16", 2, 64)
    logits, offsets = network(torch.zeros(2, 3, 64, 64))
    assert logits.shape == (2, network.anchors.shape[0], 3) and offsets.shape[-1] == 4
    lab = torch.zeros(2, network.anchors.shape[0], dtype=torch.long)
    lab[:, 0] = 1
    ce, l1 = multibox_loss(logits, offsets, lab, torch.zeros_like(offsets))
    assert torch.isfinite(ce) and torch.isfinite(l1)
    rows = boxes.detect(logits, offsets, network.anchors, 0.45)
    assert rows[0].shape[1] == 6


# ------------------------------------------------------------------------------------------------
# Detection labels


def test_packed_rows_with_padding_and_extra_header():
    row = [3, 6, 99, 0, 0.1, 0.2, 0.3, 0.4, 0, 1, 0.5, 0.5, 0.9, 0.9, 0] + [-1] * 6
    objects = labels.from_packed(row, "x", 2)
    assert np.allclose(objects, [[0, 0.1, 0.2, 0.3, 0.4], [1, 0.5, 0.5, 0.9, 0.9]])
    assert np.allclose(labels.from_packed(labels.pack(objects, 20), "x", 2), objects)


@pytest.mark.parametrize(
    "row, words",
    [([2, 5, 0, 0.1, 0.1], "whole objects"), ([2, 5, 4, 0.1, 0.1, 0.2, 0.2], "class id 4"), ([1], "label")],
)
def test_bad_packed_rows_are_client_errors(row, words):
    with pytest.raises(AlgorithmClientError, match=words):
        labels.from_packed(row, "train.rec record 1", 2)


def test_annotation_json_pixels_become_normalised_boxes():
    _, objects, _ = scenes(1, 5)[0]
    got = labels.from_annotation(annotation_json("a.png", objects), "a.json", 2)
    assert np.allclose(got, objects, atol=1e-5)
    ground_truth = {
        "image_size": [{"width": 200, "height": 100, "depth": 3}],
        "annotations": [{"class_id": 1, "left": 20, "top": 10, "width": 100, "height": 50}],
    }
    assert np.allclose(labels.from_annotation(ground_truth, "m", 2), [[1, 0.1, 0.1, 0.6, 0.6]])
    with pytest.raises(AlgorithmClientError, match="annotations"):
        labels.from_annotation({"image_size": []}, "a.json", 2)


# ------------------------------------------------------------------------------------------------
# Masks


def test_masks_round_trip_as_palette_pngs_and_label_maps_apply():
    _, _, mask = scenes(1, 3)[0]
    assert np.array_equal(decode_mask(encode_mask(mask), "m"), mask)
    assert np.array_equal(decode_mask(mask_png(mask), "m"), mask)
    scaled = LabelMap({"scale": "2"})(np.array([[0, 4, 255]], dtype=np.uint8))
    assert scaled.tolist() == [[0, 2, 255]]
    mapped = LabelMap({"map": {"0": 1, "7": 0}})(np.array([[0, 7, 3]], dtype=np.uint8))
    assert mapped.tolist() == [[1, 0, 255]]
    with pytest.raises(AlgorithmClientError, match="pixel value 5"):
        check_classes(np.array([[0, 5]], dtype=np.uint8), 3, "a.png")
    with pytest.raises(AlgorithmClientError):
        LabelMap({"scale": "0"})


def test_miou_and_pixel_accuracy():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 255]], dtype=np.uint8)
    pred = np.array([[0, 0, 1, 0], [0, 0, 1, 1]], dtype=np.uint8)
    miou, accuracy = scores(confusion(pred, truth, 2))
    assert accuracy == pytest.approx(6 / 7)
    assert miou == pytest.approx((4 / 5 + 2 / 3) / 2)


@pytest.mark.parametrize("algorithm", ["fcn", "psp", "deeplab"])
def test_segmentation_networks_answer_per_pixel(algorithm):
    network = SegmentationNetwork("resnet-18", algorithm, 3).eval()
    with torch.no_grad():
        out = network(torch.zeros(1, 3, 48, 40))
    assert out.shape == (1, 3, 48, 40)


def test_probability_record_reads_back_with_the_sdk():
    import os

    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.amazon.common import read_records

    probs = np.random.default_rng(0).random((3, 5, 4)).astype(np.float32)
    (record,) = read_records(io.BytesIO(probability_record(probs)))
    assert list(record.features["shape"].int32_tensor.values) == [1, 3, 5, 4]
    values = np.asarray(record.features["target"].float32_tensor.values, dtype=np.float32)
    assert np.array_equal(values.reshape(1, 3, 5, 4)[0], probs)


# ------------------------------------------------------------------------------------------------
# Hyperparameters


def test_detection_hyperparameters_default_and_validate():
    hp = od_hps(OD)
    assert (hp["base_network"], hp["image_shape"], hp["nms_threshold"], hp["label_width"]) == (
        "vgg-16",
        300,
        0.45,
        350,
    )
    for bad, name in [
        ({"nms_threshold": "0"}, "nms_threshold"),
        ({"base_network": "resnet-34"}, "base_network"),
        ({"optimizer": "nag"}, "optimizer"),
        ({"image_shape": "16"}, "image_shape"),
        ({"lr_scheduler_step": "5,2"}, "lr_scheduler_step"),
        ({"freeze_layer_pattern": "(("}, "freeze_layer_pattern"),
        ({"use_pretrained_model": "1"}, "use_pretrained_model"),
        ({"weight_decay": "1"}, "weight_decay"),
    ]:
        with pytest.raises(AlgorithmClientError, match=name):
            od_hps({**OD, **bad})
    with pytest.raises(AlgorithmClientError, match="num_classes"):
        od_hps({"num_training_samples": "3", "use_pretrained_model": "0"})


def test_segmentation_hyperparameters_default_and_validate():
    hp = ss_hps({**SS, "crop_size": "61"})
    assert (hp["backbone"], hp["algorithm"], hp["crop_size"], hp["lr_scheduler"]) == (
        "resnet-50",
        "fcn",
        64,
        "poly",
    )
    for bad, name in [
        ({"num_classes": "1"}, "num_classes"),
        ({"num_classes": "255"}, "num_classes"),
        ({"algorithm": "unet"}, "algorithm"),
        ({"crop_size": "16"}, "crop_size"),
        ({"lr_scheduler": "step"}, "lr_scheduler_step"),
        ({"use_pretrained_model": "True"}, "use_pretrained_model"),
        ({"optimizer": "adadelta"}, "optimizer"),
    ]:
        with pytest.raises(AlgorithmClientError, match=name):
            ss_hps({**SS, **bad})
    assert json.dumps(ss_hps({**SS, "lr_scheduler": "step", "lr_scheduler_step": "3,6"})["lr_scheduler_step"])


def test_early_stopping_and_learning_rate_schedules():
    from sagestack.algorithms.dense_vision import EarlyStopping, scheduled_lr

    stopper = EarlyStopping(True, min_epochs=3, patience=2, tolerance=0.1)
    history = [0.5, 0.52, 0.53, 0.6]  # only 0.5 counts: +4 %, +6 %, +20 % → the last improves
    assert [stopper.improved(s) for s in history] == [True, False, False, True]
    assert not stopper.stop(3)
    stopper.improved(0.6)
    stopper.improved(0.6)
    assert stopper.stop(5) and not EarlyStopping(False, 0, 1, 0.0).stop(99)
    assert scheduled_lr(0.1, "step", 5, 10, [2, 4], 0.1) == pytest.approx(0.001)
    assert scheduled_lr(0.1, "poly", 0, 10, [], 0.1) == pytest.approx(0.1)
    assert scheduled_lr(0.1, "cosine", 5, 10, [], 0.1) == pytest.approx(0.05)
