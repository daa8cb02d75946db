"""SageMaker's built-in Random Cut Forest (``randomcutforest`` image; algorithms.md §2.7).

Training (:mod:`.training`, math in :mod:`.forest`): ``num_trees`` trees, each built from
``num_samples_per_tree`` points sampled without replacement from the train channel; with a labelled
``test`` channel, accuracy, precision, recall and F1 of "score above mean + 3 std of the training
scores" (``test:f1`` is the tuning objective).

Model artifact (:mod:`.model`): ``model_algo-<n>.npz`` (the trees of host ``algo-<n>``) and ``model.json``.

Inference (:mod:`.serving`): CSV, JSON, JSON Lines or RecordIO-protobuf rows in; one ``score`` per row,
JSON as ``{"scores": [{"score": ...}, ...]}``.
"""

from sagestack.algorithms.random_cut_forest.model import RCFModel, load_model
from sagestack.algorithms.random_cut_forest.serving import predict
from sagestack.algorithms.random_cut_forest.spec import SPEC
from sagestack.algorithms.random_cut_forest.training import train

__all__ = ["SPEC", "RCFModel", "load_model", "predict", "train"]
