"""SageMaker's built-in Neural Topic Model (``ntm`` image; algorithms.md §2.9), in torch.

Training (:mod:`.training`, network in :mod:`.network`): a variational autoencoder over word counts
(encoder layers → Gaussian over topic logits → softmax topic weights → vocabulary decoder) with
SageMaker's optimizers, gradient rescaling/clipping, sub-sampling and early stopping on the validation
channel's ``total_loss`` (the tuning objective ``validation:total_loss``). ``vocab.txt`` in the
auxiliary channel prints each topic's top words.

Model artifact: ``model_algo-1`` (torch state dict) and ``model_algo-1.json`` (configuration).

Inference (:mod:`.serving`): word-count rows (CSV, JSON, JSON Lines, RecordIO-protobuf; sparse allowed)
in; ``topic_weights`` per document out.
"""

from sagestack.algorithms.ntm.serving import NTMModel, load_model, predict
from sagestack.algorithms.ntm.spec import SPEC
from sagestack.algorithms.ntm.training import train

__all__ = ["SPEC", "NTMModel", "load_model", "predict", "train"]
