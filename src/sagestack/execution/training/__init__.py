"""Training jobs as local processes.

* :mod:`.executor` — capacity (vCPUs, memory) and the runs in flight;
* :mod:`.run` — one run, stage by stage, reporting to the observer the reconciler passed in;
* :mod:`.staging` — input channels, source directory, checkpoints → each host's ``/opt/ml``;
* :mod:`.supervision` — one process per host, logs, stops and time limits;
* :mod:`.metrics` — metric scraping (``MetricDefinitions``) and ``FinalMetricDataList``;
* :mod:`.upload` — checkpoint sync, ``model.tar.gz`` / ``output.tar.gz``, clean-up.
"""

from __future__ import annotations

from .executor import LocalExecutor, shared_executor
from .run import TrainingRun
from .supervision import kill_tree

__all__ = ["LocalExecutor", "TrainingRun", "kill_tree", "shared_executor"]
