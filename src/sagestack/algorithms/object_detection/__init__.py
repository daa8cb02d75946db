"""SageMaker's built-in Object Detection (image ``object-detection``), algorithms.md §2.16.

A Single Shot multibox Detector in plain torch (:mod:`.network`) on a VGG-16 or ResNet base, with its
anchors, box coding, batched NMS and VOC mAP in :mod:`.boxes`; trained (:mod:`.training`) on ``.rec``
files, images with ``.lst`` files or annotation JSON, or augmented manifests (:mod:`.data`,
:mod:`.labels`); served (:mod:`.serving`) as SageMaker's ``{"prediction": [[class, score, xmin, ymin,
xmax, ymax], …]}``.
"""

from sagestack.algorithms.object_detection.model import DetectionModel, load_model
from sagestack.algorithms.object_detection.serving import predict
from sagestack.algorithms.object_detection.spec import SPEC
from sagestack.algorithms.object_detection.training import train

__all__ = ["SPEC", "DetectionModel", "load_model", "predict", "train"]
