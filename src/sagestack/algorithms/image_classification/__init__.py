"""SageMaker's built-in Image Classification (image ``image-classification``), algorithms.md §2.15.

A ResNet of ``num_layers`` depth in plain torch (:mod:`sagestack.algorithms.vision.backbones`), trained
(:mod:`.training`) on image RecordIO ``.rec`` files, image files with ``.lst`` files, or augmented
manifests (:mod:`sagestack.algorithms.vision.inputs`); ``validation:accuracy`` each epoch; inference on
``image/jpeg`` / ``image/png`` / ``application/x-image`` → class probabilities (:mod:`.serving`).
Data-parallel on several instances; CUDA when the instance type has a GPU and the machine one.
"""

from sagestack.algorithms.image_classification.serving import load_model, predict
from sagestack.algorithms.image_classification.spec import SPEC
from sagestack.algorithms.image_classification.training import train

__all__ = ["SPEC", "load_model", "predict", "train"]
