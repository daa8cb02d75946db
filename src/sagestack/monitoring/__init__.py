"""The built-in Model Monitor analyzer (image ``sagemaker-model-monitor-analyzer``): what runs inside a
data-quality or model-quality processing job.

* :mod:`.profile`: Deequ-style type inference and ``statistics.json`` (numeric stats with KLL sketches
  from Apache DataSketches, string stats);
* :mod:`.baseline`: ``constraints.json`` suggested from a profile;
* :mod:`.checks`: ``constraint_violations.json`` (data type, completeness, drift, columns, domains);
* :mod:`.capture`: endpoint data-capture records and ground truth, read into tables;
* :mod:`.model_quality`: regression / binary / multiclass metrics, their constraints and violations;
* :mod:`.scripts`: the record preprocessor and post-analytics processor scripts;
* :mod:`.analyzer`: the container entry point (``python -m sagestack.monitoring.analyzer``), reading the
  environment contract SageMaker gives the analyzer.

Nothing here knows about the server: the package reads local files and writes local files.
"""
