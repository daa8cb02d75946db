"""SageMaker's built-in Semantic Segmentation (image ``semantic-segmentation``), algorithms.md §2.17.

FCN, PSP and DeepLab-V3 decoders on a plain-torch ResNet encoder (:mod:`.network`), trained from
scratch (:mod:`.training`) on images with PNG masks or augmented manifests (:mod:`.data`,
:mod:`.masks`); served (:mod:`.serving`) as an indexed PNG mask or the RecordIO-protobuf probability
tensor.
"""

from sagestack.algorithms.semantic_segmentation.model import SegmentationModel, load_model
from sagestack.algorithms.semantic_segmentation.serving import predict
from sagestack.algorithms.semantic_segmentation.spec import SPEC
from sagestack.algorithms.semantic_segmentation.training import train

__all__ = ["SPEC", "SegmentationModel", "load_model", "predict", "train"]
