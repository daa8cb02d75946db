"""QualityCheck steps (DATA_QUALITY, MODEL_QUALITY): the step's Arguments are a CreateProcessingJob
request for the Model Monitor analyzer (a baselining job, as the SDK's QualityCheckStep builds it);
SageMaker runs it and handles the baselines around it, and so does this handler:

* the *previous baseline* is SuppliedBaselineStatistics / SuppliedBaselineConstraints when given, else
  the DriftCheckBaselines (ModelDataQuality or ModelQuality) of the newest Approved package of
  ModelPackageGroupName; SkipCheck false or RegisterNewBaseline false need one (the step fails without);
* unless SkipCheck, the previous baseline goes into the job (``baseline_constraints`` /
  ``baseline_statistics``), so the analyzer also checks the data against it and writes
  ``constraint_violations.json``; violations fail the step when FailOnViolation
  (``ClientError: Quality check failed. See violation report …``);
* properties: CalculatedBaselineStatistics / CalculatedBaselineConstraints (what the job computed),
  BaselineUsedForDriftCheckStatistics / BaselineUsedForDriftCheckConstraints (the new ones when
  RegisterNewBaseline, else the previous ones) — what a RegisterModel step's DriftCheckBaselines take.

ClarifyCheck steps (DATA_BIAS, MODEL_BIAS, MODEL_EXPLAINABILITY) have the same shape with the Clarify
processor's job: only constraints (``<analysis_result>/analysis.json``), the previous ones from the
package's DriftCheckBaselines Bias.PreTrainingConstraints / Bias.PostTrainingConstraints /
Explainability.Constraints, and ``ClientError: Clarify check failed. See violation report …``. Whether
the job runs is the Clarify image's business (the job fails with the image's reason where it cannot).
"""

from __future__ import annotations

import json

from ...domain.monitoring import BASELINE_CONSTRAINTS, BASELINE_STATISTICS
from ...domain.pipeline_expressions import ExpressionError
from ...execution.storage import JobStorage, split_uri
from ...protocol.errors import ServiceError
from .base import Outcome, StepContext
from .jobs import PROCESSING, JobStep

OUTPUT_NAME = "quality_check_output"
#: CheckType → the path in a model package's DriftCheckBaselines that holds its baselines.
DRIFT_MEMBER = {"DATA_QUALITY": ("ModelDataQuality",), "MODEL_QUALITY": ("ModelQuality",)}
CLARIFY_DRIFT_MEMBER = {
    "DATA_BIAS": ("Bias", "PreTrainingConstraints"),
    "MODEL_BIAS": ("Bias", "PostTrainingConstraints"),
    "MODEL_EXPLAINABILITY": ("Explainability",),
}


def _flag(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


class CheckError(Exception):
    """The step cannot run as configured (the message is its FailureReason)."""


class QualityCheckStep(JobStep):
    metadata_name = "QualityCheck"
    output_name = OUTPUT_NAME
    drift_members = DRIFT_MEMBER
    #: Whether the check has statistics besides constraints.
    statistics = True
    constraints_file = "constraints.json"
    noun = "Quality"

    def __init__(self):
        super().__init__(PROCESSING.kind)

    # -- settings ------------------------------------------------------------------------------

    def _settings(self, ctx: StepContext) -> dict:
        raw = ctx.step.raw
        check_type = raw.get("CheckType") or "DATA_QUALITY"
        if check_type not in self.drift_members:
            raise CheckError(
                f"ClientError: CheckType {check_type} is not a {self.metadata_name} type "
                f"({', '.join(self.drift_members)})."
            )
        settings = {
            "CheckType": check_type,
            "SkipCheck": _flag(ctx.resolve(raw.get("SkipCheck")), False),
            "RegisterNewBaseline": _flag(ctx.resolve(raw.get("RegisterNewBaseline")), False),
            "FailOnViolation": _flag(ctx.resolve(raw.get("FailOnViolation")), True),
            "ModelPackageGroupName": _text(ctx.resolve(raw.get("ModelPackageGroupName"))),
        }
        statistics = _text(ctx.resolve(raw.get("SuppliedBaselineStatistics"))) if self.statistics else None
        constraints = _text(ctx.resolve(raw.get("SuppliedBaselineConstraints")))
        if not (statistics or constraints) and settings["ModelPackageGroupName"]:
            statistics, constraints = self._registered(ctx, settings["ModelPackageGroupName"], check_type)
        settings["PreviousStatistics"], settings["PreviousConstraints"] = statistics, constraints
        has_previous = bool(constraints or statistics)
        if not has_previous and (not settings["SkipCheck"] or not settings["RegisterNewBaseline"]):
            where = (
                f"in the latest approved model package of group {settings['ModelPackageGroupName']}"
                if settings["ModelPackageGroupName"]
                else "(no ModelPackageGroupName)"
            )
            needs = "SkipCheck is false" if not settings["SkipCheck"] else "RegisterNewBaseline is false"
            supplied = (
                "SuppliedBaselineStatistics / SuppliedBaselineConstraints"
                if self.statistics
                else "SuppliedBaselineConstraints"
            )
            raise CheckError(
                f"ClientError: {needs}, so the step needs a previous {check_type} baseline: none was "
                f"supplied ({supplied}) and none was found {where}. "
                "Run the step with SkipCheck and RegisterNewBaseline set to true first."
            )
        return settings

    def _registered(self, ctx: StepContext, group: str, check_type: str) -> tuple[str | None, str | None]:
        try:
            page = ctx.call(
                "ListModelPackages",
                {
                    "ModelPackageGroupName": group,
                    "ModelApprovalStatus": "Approved",
                    "SortBy": "CreationTime",
                    "SortOrder": "Descending",
                    "MaxResults": 1,
                },
            )
        except ServiceError:
            return None, None
        summaries = page.get("ModelPackageSummaryList") or []
        if not summaries:
            return None, None
        package = ctx.call("DescribeModelPackage", {"ModelPackageName": summaries[0]["ModelPackageArn"]})
        member = package.get("DriftCheckBaselines") or {}
        for key in self.drift_members[check_type]:
            member = member.get(key) or {}
        if "S3Uri" in member:  # Bias.Pre/PostTrainingConstraints: the constraints themselves
            return None, member["S3Uri"]
        statistics = (member.get("Statistics") or {}).get("S3Uri") if self.statistics else None
        return statistics, (member.get("Constraints") or {}).get("S3Uri")

    # -- the job -------------------------------------------------------------------------------

    def arguments(self, ctx: StepContext) -> dict:
        arguments = dict(super().arguments(ctx))
        settings = ctx.record.get("_Check") or {}
        if settings.get("SkipCheck"):
            return arguments
        inputs = list(arguments.get("ProcessingInputs") or [])
        env = dict(arguments.get("Environment") or {})
        for name, uri, local, variable in (
            (
                "constraints",
                settings.get("PreviousConstraints"),
                BASELINE_CONSTRAINTS,
                "baseline_constraints",
            ),
            ("baseline", settings.get("PreviousStatistics"), BASELINE_STATISTICS, "baseline_statistics"),
        ):
            if not uri:
                continue
            inputs.append(
                {
                    "InputName": name,
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": uri,
                        "LocalPath": local,
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                }
            )
            env[variable] = local
        arguments["ProcessingInputs"] = inputs
        arguments["Environment"] = env
        return arguments

    def start(self, ctx: StepContext) -> Outcome:
        try:
            settings = self._settings(ctx)
        except CheckError as exc:
            return Outcome("Failed", metadata={}, failure=str(exc))
        ctx.save(_Check=settings)
        outcome = super().start(ctx)
        if outcome.status == "Executing":
            job_arn = (outcome.metadata or {}).get(self.kind.metadata_key, {}).get("Arn")
            outcome.metadata = {self.metadata_name: self._metadata(settings, CheckJobArn=job_arn)}
        return outcome

    @staticmethod
    def _metadata(settings: dict, **members) -> dict:
        out = {
            "CheckType": settings.get("CheckType"),
            "ModelPackageGroupName": settings.get("ModelPackageGroupName"),
            "SkipCheck": settings.get("SkipCheck"),
            "RegisterNewBaseline": settings.get("RegisterNewBaseline"),
        }
        out.update(members)
        return {k: v for k, v in out.items() if v is not None}

    def poll(self, ctx: StepContext) -> Outcome | None:
        outcome = super().poll(ctx)
        if outcome is None:
            return None
        settings = ctx.record.get("_Check") or {}
        previous = dict((ctx.record.get("Metadata") or {}).get(self.metadata_name) or {})
        if outcome.status != "Succeeded":
            outcome.metadata = {self.metadata_name: previous or self._metadata(settings)}
            return outcome
        job = outcome.properties or {}
        base = None
        for output in (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            if output.get("OutputName") == self.output_name or base is None:
                base = ((output.get("S3Output") or {}).get("S3Uri") or "").rstrip("/")
        if not base:
            return Outcome(
                "Failed", failure=f"ClientError: the check job has no output named {self.output_name}."
            )
        calculated_statistics = f"{base}/statistics.json" if self.statistics else None
        calculated_constraints = f"{base}/{self.constraints_file}"
        if settings.get("RegisterNewBaseline"):
            used_statistics, used_constraints = calculated_statistics, calculated_constraints
        else:
            used_statistics = settings.get("PreviousStatistics")
            used_constraints = settings.get("PreviousConstraints")
        properties = {
            "CalculatedBaselineStatistics": calculated_statistics,
            "CalculatedBaselineConstraints": calculated_constraints,
            "BaselineUsedForDriftCheckStatistics": used_statistics,
            "BaselineUsedForDriftCheckConstraints": used_constraints,
        }
        members = dict(properties, CheckJobArn=job.get("ProcessingJobArn") or previous.get("CheckJobArn"))
        if not settings.get("SkipCheck"):
            report = f"{base}/constraint_violations.json"
            violations = self._violations(ctx, report)
            if violations:
                members["ViolationReport"] = report
                if settings.get("FailOnViolation", True):
                    return Outcome(
                        "Failed",
                        metadata={self.metadata_name: self._metadata(settings, **members)},
                        failure=(
                            f"ClientError: {self.noun} check failed. See violation report in {report} "
                            f"({len(violations)} violation{'s' if len(violations) != 1 else ''}: "
                            + "; ".join(
                                f"{v.get('feature_name') or v.get('metric_name')}: {v.get('constraint_check_type')}"
                                for v in violations[:5]
                            )
                            + ")."
                        ),
                    )
        return Outcome(
            "Succeeded",
            metadata={self.metadata_name: self._metadata(settings, **members)},
            properties={k: v for k, v in properties.items() if v is not None},
        )

    def _violations(self, ctx: StepContext, uri: str) -> list[dict]:
        storage = JobStorage(ctx.platform, ctx.account, ctx.region)
        try:
            bucket, key = split_uri(uri)
            document = json.loads(storage.read_bytes(bucket, key))
        except Exception as exc:
            raise ExpressionError(
                f"the check job wrote no readable violation report at {uri}: {exc}"
            ) from None
        return list(document.get("violations") or [])


class ClarifyCheckStep(QualityCheckStep):
    metadata_name = "ClarifyCheck"
    output_name = "analysis_result"
    drift_members = CLARIFY_DRIFT_MEMBER
    statistics = False
    constraints_file = "analysis.json"
    noun = "Clarify"


QUALITY_CHECK = QualityCheckStep()
CLARIFY_CHECK = ClarifyCheckStep()
