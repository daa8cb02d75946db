"""The plain-torch ResNets: depths, classifier output, C3/C4/C5 feature maps, training helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_images import shape_dataset

from sagestack.algorithms.base import AlgorithmClientError, AlgorithmError
from sagestack.algorithms.neural import make_optimizer
from sagestack.algorithms.vision.backbones import NUM_LAYERS, ResNetFeatures, resnet
from sagestack.algorithms.vision.inputs import ImageRecord, encode_image
from sagestack.algorithms.vision.training import (
    ImageSet,
    choose_device,
    parse_steps,
    recalibrate_batchnorm,
    step_factor,
)


def _params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("depth,expected", [(18, 11_689_512), (50, 25_557_032)])
def test_imagenet_resnets_have_the_reference_size(depth, expected):
    # the parameter counts of the reference ImageNet ResNet-18 / ResNet-50 (1000 classes)
    assert _params(resnet(depth, 1000)) == expected


def test_every_depth_builds_and_classifies():
    x = torch.randn(2, 3, 32, 32)
    for depth in (18, 20, 34, 50):
        model = resnet(depth, 5).eval()
        with torch.no_grad():
            assert model(x).shape == (2, 5)
    assert set(NUM_LAYERS) == {18, 34, 50, 101, 152, 200, 20, 32, 44, 56, 110}
    with pytest.raises(ValueError, match="num_layers"):
        resnet(19, 2)


def test_features_c3_c4_c5():
    trunk = ResNetFeatures(50).eval()
    with torch.no_grad():
        c3, c4, c5 = trunk(torch.randn(1, 3, 64, 64))
    assert trunk.channels == (512, 1024, 2048) and trunk.strides == (8, 16, 32)
    assert c3.shape == (1, 512, 8, 8) and c4.shape == (1, 1024, 4, 4) and c5.shape == (1, 2048, 2, 2)
    dilated = ResNetFeatures(18, dilate_last=1).eval()
    with torch.no_grad():
        outs = dilated(torch.randn(1, 3, 64, 64))
    assert dilated.strides == (8, 16, 16) and [o.shape[-1] for o in outs] == [8, 4, 4]
    cifar = ResNetFeatures(20).eval()
    with torch.no_grad():
        outs = cifar(torch.randn(1, 3, 32, 32))
    assert cifar.channels == (16, 32, 64) and [o.shape[-1] for o in outs] == [32, 16, 8]


def test_optimizers_and_schedule():
    model = torch.nn.Linear(2, 2)
    for name, kind in (("sgd", "SGD"), ("adam", "Adam"), ("rmsprop", "RMSprop"), ("nag", "SGD")):
        assert type(make_optimizer(name, model.parameters(), 0.1)).__name__ == kind
    assert make_optimizer("nag", model.parameters(), 0.1).defaults["nesterov"]
    with pytest.raises(AlgorithmError):
        make_optimizer("ftrl", model.parameters(), 0.1)
    steps = parse_steps("10, 20")
    assert steps == [10, 20]
    assert [step_factor(e, steps, 0.1) for e in (0, 10, 25)] == pytest.approx([1, 0.1, 0.01])
    with pytest.raises(AlgorithmClientError, match="lr_scheduler_step"):
        parse_steps("a,b")
    assert choose_device(0).type == "cpu"


def test_small_resnet_learns_shapes():
    images, labels = shape_dataset(120, size=32, seed=1)
    records = [
        ImageRecord(str(i), encode_image(im), (float(lab),))
        for i, (im, lab) in enumerate(zip(images, labels))
    ]
    data = ImageSet.load(records, 32, 32)
    torch.manual_seed(0)
    torch.set_num_threads(1)  # the test machine's cores are shared; intra-op threads only contend
    model = resnet(20, 3)
    opt = make_optimizer("adam", model.parameters(), 0.01)
    rng = np.random.default_rng(0)
    target = torch.tensor([int(lab[0]) for lab in data.labels])
    for _ in range(8):
        model.train()
        for batch, index in data.batches(16, 32, 32, "crop", rng):
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(batch)), target[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
    recalibrate_batchnorm(model, (torch.from_numpy(b) for b, _ in data.batches(32, 32, 32)))
    test_images, test_labels = shape_dataset(30, size=32, seed=7)
    test = ImageSet.load(
        [ImageRecord(str(i), encode_image(im), (0.0,)) for i, im in enumerate(test_images)], 32, 32
    )
    model.eval()
    with torch.no_grad():
        batch, _ = next(test.batches(64, 32, 32))
        predicted = model(torch.from_numpy(batch)).argmax(1).numpy()
    assert (predicted == np.array(test_labels)).mean() > 0.6
