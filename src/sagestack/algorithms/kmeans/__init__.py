"""SageMaker's built-in K-Means (``kmeans`` image; algorithms.md §2.3).

Training (:mod:`.training`, math in :mod:`.fitting` and :mod:`.clustering`): web-scale mini-batch
k-means over ``mini_batch_size`` batches keeping ``k × extra_center_factor`` centers (``init_method``
seeding, ``half_life_time_size`` decay, ``epochs`` passes), reduced to ``k`` by weighted local Lloyd
(``local_lloyd_*``), then refined by full-data Lloyd passes; small training sets are clustered directly.
``eval_metrics`` (``msd``, ``ssd``) score the optional ``test`` channel and are logged as
``#quality_metric: host=algo-1, test msd <loss>=...`` (metrics ``test:msd``, ``test:ssd``).

Model artifact (:mod:`.model`): ``centroids.npy`` (float32 ``(k, feature_dim)``) and ``model.json``.

Inference (:mod:`.serving`): CSV, JSON, JSON Lines or RecordIO-protobuf rows in; per row
``closest_cluster`` (cluster index as a float) and ``distance_to_cluster`` (Euclidean distance).
"""

from sagestack.algorithms.kmeans.model import KMeansModel, load_model
from sagestack.algorithms.kmeans.serving import predict
from sagestack.algorithms.kmeans.spec import SPEC
from sagestack.algorithms.kmeans.training import train

__all__ = ["SPEC", "KMeansModel", "load_model", "predict", "train"]
