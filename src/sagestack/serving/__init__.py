"""Real-time serving: the controller (worker instances per endpoint variant), the router (the gateway's
invocation fast path), the worker process (the SageMaker container contract) and its handlers
(built-in algorithms, the inference-toolkit contract), data capture and endpoint metrics.

Entry points: ``serving.controller.serving_controller(platform)`` → :class:`ServingController`
(``start_workers(containers, count, ...) -> WorkerGroup`` for batch transform; ``deploy``/``activate``
for endpoints) and ``python -m sagestack.serving.worker --config FILE``.
"""
