"""Processing jobs as local processes, on the training runs' machinery (executor, host processes,
supervision, log streaming, stops and time limits):

* :mod:`.run` — one run: stage, launch one process per host, supervise, upload, report to the observer;
* :mod:`.staging` — ``ProcessingInputs`` into each host's ``/opt/ml/processing/…``, the config files,
  ``ProcessingOutputConfig`` uploads (end of job and continuous).
"""

from __future__ import annotations

from .run import ProcessingRun

__all__ = ["ProcessingRun"]
