"""Processing, Training, Transform and Tuning steps: create the job through the same CreateXJob the API
answers (in-process), wait for it, stop it; the job's Describe* answer is the step's properties."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.pipeline_executions import cache_key, classify_create_error, classify_job_failure, job_name
from ...protocol.errors import ServiceError
from .base import Outcome, StepContext, StepHandler, invoke_failure


@dataclass(frozen=True)
class JobKind:
    noun: str  # CreateXJob / DescribeXJob / StopXJob
    name_field: str
    status_field: str
    arn_field: str
    metadata_key: str
    name_limit: int = 63
    experiments: bool = True


NOT_FOUND = ("ValidationException", "ResourceNotFound")


class JobStep(StepHandler):
    def __init__(self, kind: JobKind):
        self.kind = kind

    def start(self, ctx: StepContext) -> Outcome:
        kind = self.kind
        name = ctx.record.get("_Job") or job_name(ctx.execution_id, ctx.step.name, kind.name_limit)
        # Execution.TrainingJobName / ProcessingJobName: the job this step launches
        ctx.scope.execution[f"{kind.noun}Name"] = name
        arguments = dict(self.arguments(ctx))
        refused = self.refuse(arguments)
        if refused is not None:
            return Outcome("Failed", metadata={}, failure=refused)
        key = cache_key(ctx.step.type, arguments)
        cache = ctx.step.raw.get("CacheConfig") or {}
        if key and cache.get("Enabled"):
            source = ctx.cached(key)
            if source is not None:
                return Outcome(
                    "Succeeded",
                    metadata=source.get("Metadata"),
                    properties=source.get("_Properties"),
                    extra={
                        "_CacheKey": key,
                        "CacheHitResult": {"SourcePipelineExecutionArn": source["_SourceExecution"]},
                    },
                )
        if ctx.record.get("_Job") != name:
            ctx.save(_Job=name)  # before the create: a restart in between finds the job by this name
        # A name in the arguments (the SDK's use_custom_job_prefix) is replaced: names stay unique.
        arguments[kind.name_field] = name
        experiment = ctx.execution.get("PipelineExperimentConfig")
        if kind.experiments and experiment and ctx.execution.get("_ExperimentReady"):
            arguments.setdefault(
                "ExperimentConfig",
                {"ExperimentName": experiment["ExperimentName"], "TrialName": experiment["TrialName"]},
            )
        operation = f"Create{kind.noun}"
        try:
            created = ctx.call(operation, arguments)
            job_arn = created[kind.arn_field]
        except ServiceError as exc:
            if ctx.record.get("_Job") == name and (
                exc.code == "ResourceInUse" or "already exist" in exc.message
            ):
                job_arn = self._describe(ctx, name)[kind.arn_field]  # created before a restart
            else:
                return Outcome(
                    "Failed",
                    metadata={},
                    failure=invoke_failure(operation, exc),
                    retry_kind=classify_create_error(exc.code),
                    extra={"_CacheKey": key, "_Job": None},
                )
        return Outcome(
            "Executing",
            metadata={kind.metadata_key: {"Arn": job_arn}},
            extra={"_CacheKey": key, "_Job": name},
        )

    def refuse(self, arguments: dict) -> str | None:
        """The FailureReason of a step this sagestack cannot run at all (before any job is made)."""
        return None

    def arguments(self, ctx: StepContext) -> dict:
        """The Create* request: the step's Arguments, resolved."""
        return ctx.resolve(ctx.step.arguments or {})

    def _describe(self, ctx: StepContext, name: str) -> dict:
        return ctx.call(f"Describe{self.kind.noun}", {self.kind.name_field: name})

    def poll(self, ctx: StepContext) -> Outcome | None:
        name = ctx.record.get("_Job")
        if not name:
            return None
        try:
            job = self._describe(ctx, name)
        except ServiceError as exc:
            if exc.code in NOT_FOUND:
                return Outcome(
                    "Failed", failure=f"ClientError: the job {name} of this step no longer exists."
                )
            raise
        status = job[self.kind.status_field]
        if status == "Completed":
            return Outcome("Succeeded", properties=self.properties(ctx, job))
        if status == "Failed":
            reason = job.get("FailureReason") or "the job failed"
            return Outcome(
                "Failed", failure=f"ClientError: {reason}", retry_kind=classify_job_failure(reason)
            )
        if status == "Stopped":
            return Outcome("Stopped")
        if status == "Stopping" and ctx.record.get("StepStatus") != "Stopping":
            return Outcome("Stopping")
        return None

    def properties(self, ctx: StepContext, job: dict) -> dict:
        return job

    def stop(self, ctx: StepContext) -> Outcome | None:
        name = ctx.record.get("_Job")
        if not name or ctx.record.get("StepStatus") == "Starting":
            return Outcome("Stopped")
        try:
            ctx.call(f"Stop{self.kind.noun}", {self.kind.name_field: name})
        except ServiceError:
            pass  # already ending: the next poll sees how it ended
        return Outcome("Stopping")


#: The entry point of the SageMaker Distribution image that a NotebookJobStep's training job runs.
NOTEBOOK_ENTRYPOINT = ["amazon_sagemaker_scheduler"]


class TrainingStep(JobStep):
    def refuse(self, arguments: dict) -> str | None:
        algorithm = arguments.get("AlgorithmSpecification") or {}
        if algorithm.get("ContainerEntrypoint") != NOTEBOOK_ENTRYPOINT:
            return None
        return (
            "ClientError: NotebookJobStep is not supported by this sagestack: its training job runs the "
            f"SageMaker Distribution image ({algorithm.get('TrainingImage')}) with the amazon_sagemaker_scheduler "
            "entry point, which executes the notebook with papermill in a Jupyter kernel; neither that image "
            "nor papermill is available here. Run the notebook's code as a ProcessingStep or a @step function "
            "instead."
        )


class TuningStep(JobStep):
    def properties(self, ctx: StepContext, job: dict) -> dict:
        summaries: list[dict] = []
        token = None
        while len(summaries) < 50:
            params = {
                "HyperParameterTuningJobName": job["HyperParameterTuningJobName"],
                "SortBy": "FinalObjectiveMetricValue",
                "SortOrder": "Descending",
                "MaxResults": 100,
            }
            if token:
                params["NextToken"] = token
            page = ctx.call("ListTrainingJobsForHyperParameterTuningJob", params)
            summaries.extend(page.get("TrainingJobSummaries") or [])
            token = page.get("NextToken")
            if not token:
                break
        best = (job.get("BestTrainingJob") or {}).get("TrainingJobName")
        summaries.sort(key=lambda s: s.get("TrainingJobName") != best)  # the best first
        return dict(job, TrainingJobSummaries=summaries[:50])


PROCESSING = JobStep(
    JobKind("ProcessingJob", "ProcessingJobName", "ProcessingJobStatus", "ProcessingJobArn", "ProcessingJob")
)
TRAINING = TrainingStep(
    JobKind("TrainingJob", "TrainingJobName", "TrainingJobStatus", "TrainingJobArn", "TrainingJob")
)
TRANSFORM = JobStep(
    JobKind("TransformJob", "TransformJobName", "TransformJobStatus", "TransformJobArn", "TransformJob")
)
TUNING = TuningStep(
    JobKind(
        "HyperParameterTuningJob",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "HyperParameterTuningJobArn",
        "TuningJob",
        name_limit=32,
        experiments=False,
    )
)
