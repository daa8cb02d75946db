"""SageMaker's built-in Object2Vec (``object2vec`` image; algorithms.md §2.12), in torch.

Training (:mod:`.training`, network in :mod:`.network`, data in :mod:`.data`): JSON Lines pairs of
token-id sequences with a class label (``output_layer=softmax``) or a real target
(``mean_squared_error``); two encoders (``pooled_embedding``, ``hcnn``, ``bilstm``), the comparator
operators, an MLP; negative sampling, early stopping on the validation loss; ``validation:``/``test:``
``accuracy``, ``cross_entropy``, ``mean_squared_error``. Pre-trained token embeddings are not supported
(``enc*_pretrained_embedding_file`` must stay unset).

Model artifact: ``model_algo-1`` (torch state dict) and ``model_algo-1.json``.

Inference (:mod:`.serving`): JSON / JSON Lines pairs → ``scores``; single-sided instances →
``embeddings`` (encoder embeddings).
"""

from sagestack.algorithms.object2vec.serving import Object2VecModel, load_model, predict
from sagestack.algorithms.object2vec.spec import SPEC
from sagestack.algorithms.object2vec.training import train

__all__ = ["SPEC", "Object2VecModel", "load_model", "predict", "train"]
