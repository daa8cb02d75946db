"""SageMaker's built-in IP Insights (``ipinsights`` image; algorithms.md §2.13), in torch.

Training (:mod:`.training`, model in :mod:`.network`, data in :mod:`.data`): ``entity,IPv4`` CSV rows;
hashed entity embeddings and an IP encoder trained to score observed pairs above random and shuffled
negative pairs; a validation channel gives ``validation:discriminator_auc`` every epoch.

Model artifact: ``model_algo-1`` (torch state dict) and ``model_algo-1.json``.

Inference (:mod:`.serving`): CSV, JSON or JSON Lines pairs in; ``dot_product`` per pair out (JSON or JSON
Lines), with ``entity_embedding`` and ``ip_embedding`` when the Accept header carries ``verbose=True``.
"""

from sagestack.algorithms.ip_insights.serving import IPInsightsModel, load_model, predict
from sagestack.algorithms.ip_insights.spec import SPEC
from sagestack.algorithms.ip_insights.training import train

__all__ = ["SPEC", "IPInsightsModel", "load_model", "predict", "train"]
