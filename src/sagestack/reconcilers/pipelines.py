"""The pipeline engine: advances every Executing / Stopping execution one pass at a time from what the
store says (so a restarted server — even after SIGKILL — goes on where it was: jobs the restart ended
are failed by their own reconcilers and their steps fail, or retry, with that reason).

One pass over an execution: poll its running steps (their jobs' Describe*), deliver a stop, start the
steps whose dependencies all Succeeded (bounded by ParallelismConfiguration, definition order), skip the
branch a Condition did not take, apply retry policies and caching, and end the execution when nothing
runs and nothing can start. Step types are handled by :mod:`.pipeline_steps` (one module per family).

The loop wakes when a job of the shared executor ends and when a handler records a change, so a step
transition takes well under a second.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from ..domain import pipeline_executions as executions
from ..domain.pipeline_executions import EXECUTION, RUNNING_STEPS, STEP_FAILURE, set_step
from ..domain.pipeline_expressions import ExpressionError, Scope
from ..domain.pipelines import Definition, DefinitionError, parse, parse_duration
from ..domain.state import utcnow
from ..execution.storage import JobStorage, split_uri
from ..protocol.errors import ServiceError
from ..store.resources import ListQuery
from .base import Reconciler
from .pipeline_steps import Outcome, StepContext, handler_for

log = logging.getLogger("sagestack.pipelines")


class PipelineReconciler(Reconciler):
    name = "pipelines"
    interval = 1.0

    def __init__(self, platform):
        super().__init__(platform)
        #: Parsed definitions by execution ARN (a pinned definition never changes).
        self._definitions: dict[str, Definition] = {}

    def on_start(self) -> None:
        from ..execution.training import shared_executor

        shared_executor(self.platform).listen(self.wake)

    def step(self) -> None:
        rows = self.platform.resources.in_states(EXECUTION, ["Executing", "Stopping"])
        self.each(rows, self._advance, "pipeline execution")

    # -- helpers -------------------------------------------------------------------------------

    def _caller(self):
        caller = self.platform.get_component("api-calls")
        if caller is None:
            raise RuntimeError("the in-process API caller (services.calls) is not started")
        return caller

    def _definition(self, row) -> Definition:
        arn = row.data["PipelineExecutionArn"]
        definition = self._definitions.get(arn)
        if definition is None:
            definition = parse(row.data["_Definition"])
            self._definitions[arn] = definition
        return definition

    def _reload(self, row):
        return self.platform.resources.get(row.account_id, row.region, EXECUTION, row.name)

    def _write(self, row, change):
        return executions.update(self.platform.resources, row, change)

    def _context(self, row, definition: Definition, name: str) -> StepContext:
        data = row.data
        record = (data.get("_Steps") or {}).get(name) or {"StepName": name}
        caller = self._caller()

        def call_service(service: str, operation: str, params: dict) -> dict:
            return caller.call(
                service,
                operation,
                params,
                account_id=row.account_id,
                region=row.region,
                principal_arn=data.get("_Principal") or data.get("RoleArn") or "",
            )

        def call(operation: str, params: dict) -> dict:
            return call_service("sagemaker", operation, params)

        def save(**members) -> None:
            def change(fresh: dict) -> None:
                set_step(fresh, name, **members)

            self._write(row, change)
            record.update({k: v for k, v in members.items() if v is not None})

        return StepContext(
            step=definition.steps[name],
            record=record,
            execution=data,
            scope=self._scope(row, definition),
            call=call,
            save=save,
            cached=lambda key: self._cached(row, name, key, definition),
            clock=utcnow,
            call_service=call_service,
            platform=self.platform,
            wake=self.wake,
        )

    def _scope(self, row, definition: Definition) -> Scope:
        data = row.data
        steps = data.get("_Steps") or {}
        storage = JobStorage(self.platform, row.account_id, row.region)

        def properties(name: str):
            record = steps.get(name)
            if record is None or record.get("StepStatus") != "Succeeded" or record.get("_Properties") is None:
                raise ExpressionError(f"Steps.{name} is undefined: the step has no properties.")
            return record["_Properties"]

        def property_file_uri(step: str, file_name: str) -> str:
            declared = {
                p["PropertyFileName"]: p for p in definition.steps[step].raw.get("PropertyFiles") or []
            }
            item = declared[file_name]
            outputs = (properties(step).get("ProcessingOutputConfig") or {}).get("Outputs") or []
            for output in outputs:
                if output.get("OutputName") == item["OutputName"]:
                    base = output["S3Output"]["S3Uri"].rstrip("/")
                    return f"{base}/{item['FilePath'].lstrip('/')}"
            raise ExpressionError(f"Steps.{step}.PropertyFiles.{file_name} is undefined.")

        def read_json(uri: str):
            try:
                bucket, key = split_uri(uri)
                raw = storage.read_bytes(bucket, key)
            except Exception as exc:
                raise ExpressionError(f"Received an error while reading file {uri} from S3: {exc}") from None
            try:
                return json.loads(raw)
            except ValueError:
                raise ExpressionError(f"Contents of file {uri} are not in valid JSON format.") from None

        return Scope(
            parameters=dict(data.get("_Parameters") or {}),
            execution={
                "PipelineExecutionId": row.name,
                "PipelineExecutionArn": data["PipelineExecutionArn"],
                "PipelineName": data["_PipelineName"],
                "PipelineArn": data["PipelineArn"],
                "StartDateTime": data["_StartDateTime"],
            },
            experiment=dict(data.get("PipelineExperimentConfig") or {}),
            step_properties=properties,
            property_file_uri=property_file_uri,
            read_json=read_json,
        )

    def _cached(self, row, name: str, key: str, definition: Definition) -> dict | None:
        """The newest Succeeded run of this step (same pipeline, same key) within ExpireAfter."""
        cache = definition.steps[name].raw.get("CacheConfig") or {}
        limit = None
        if cache.get("ExpireAfter"):
            try:
                limit = parse_duration(cache["ExpireAfter"])
            except ValueError:
                return None
        now = utcnow()
        rows, _ = self.platform.resources.list(
            row.account_id,
            row.region,
            EXECUTION,
            ListQuery(
                parent=row.data["_PipelineName"],
                sort_by="CreationTime",
                sort_order="Descending",
                max_results=100,
            ),
        )
        for other in rows:
            if other.name == row.name:
                continue
            record = (other.data.get("_Steps") or {}).get(name)
            if not record or record.get("StepStatus") != "Succeeded" or record.get("_CacheKey") != key:
                continue
            if record.get("SelectiveExecutionResult"):
                continue
            ended = record.get("EndTime") or other.data["CreationTime"]
            if limit is not None and (now - ended).total_seconds() > limit:
                continue
            hit = record.get("CacheHitResult") or {}
            source = hit.get("SourcePipelineExecutionArn") or other.data["PipelineExecutionArn"]
            return dict(record, _SourceExecution=source)
        return None

    # -- one execution -------------------------------------------------------------------------

    def _advance(self, row) -> None:
        try:
            definition = self._definition(row)
        except DefinitionError as exc:  # cannot happen for a stored definition, but never stay Executing
            self._finish(row, "Failed", f"The pipeline definition could not be read: {exc}")
            return
        if not row.data.get("_Prepared"):
            row = self._prepare(row)
        for name, record in list((row.data.get("_Steps") or {}).items()):
            if record.get("StepStatus") in RUNNING_STEPS:
                self._tend(row, definition, name)
                row = self._reload(row)
        data = row.data
        stopping = data["PipelineExecutionStatus"] == "Stopping"
        steps = data.get("_Steps") or {}
        running = executions.running(data)
        if stopping:
            for record in running:
                if not record.get("_StopSent"):
                    self._stop_step(row, definition, record["StepName"])
            row = self._reload(row)
            if not executions.running(row.data):
                self._finish(row, None)
            return
        if any(r.get("StepStatus") in ("Failed", "Stopped") for r in steps.values()):
            if not running:
                self._finish(row, None)
            return
        if self.platform.stopping:
            return
        self._start_ready(row, definition)
        row = self._reload(row)
        data = row.data
        if data["PipelineExecutionStatus"] == "Executing" and not executions.running(data):
            failed = any(
                r.get("StepStatus") in ("Failed", "Stopped") for r in (data.get("_Steps") or {}).values()
            )
            if failed or not self._ready(data, definition):
                self._finish(row, None)

    def _prepare(self, row):
        """First pass: the experiment and trial of PipelineExperimentConfig (existing ones reused)."""
        config = row.data.get("PipelineExperimentConfig") or {}
        ready = False
        if config.get("ExperimentName"):
            ready = True
            caller = self._caller()
            for operation, params in (
                ("CreateExperiment", {"ExperimentName": config["ExperimentName"]}),
                (
                    "CreateTrial",
                    {"TrialName": config["TrialName"], "ExperimentName": config["ExperimentName"]},
                ),
            ):
                try:
                    caller.call(
                        "sagemaker",
                        operation,
                        params,
                        account_id=row.account_id,
                        region=row.region,
                        principal_arn=row.data.get("_Principal") or "",
                    )
                except ServiceError as exc:
                    if "already exist" not in exc.message and exc.code not in ("ResourceInUse",):
                        # the jobs are created without ExperimentConfig then
                        log.warning("pipeline %s: %s failed: %s", row.name, operation, exc.message)
                        ready = False

        def change(data: dict) -> None:
            data["_Prepared"] = True
            data["_ExperimentReady"] = ready

        return self._write(row, change) or row

    def _ready(self, data: dict, definition: Definition) -> list[str]:
        steps = data.get("_Steps") or {}
        skipped = set(data.get("_Skipped") or [])
        out = []
        for name, step in definition.steps.items():
            if name in steps or name in skipped:
                continue
            if all((steps.get(d) or {}).get("StepStatus") == "Succeeded" for d in step.depends):
                if step.branch is not None:
                    outcome = ((steps.get(step.branch[0]) or {}).get("_Properties") or {}).get("Outcome")
                    if outcome is not step.branch[1]:
                        continue
                out.append(name)
        return out

    def _start_ready(self, row, definition: Definition) -> int:
        started = 0
        while True:
            data = row.data
            limit = (data.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps")
            ready = self._ready(data, definition)
            if not ready:
                return started
            room = len(ready) if not limit else limit - len(executions.running(data))
            if room <= 0:
                return started
            for name in ready[:room]:
                step = definition.steps[name]

                def change(fresh: dict, name=name, step=step) -> None:
                    stamp = utcnow()
                    set_step(
                        fresh,
                        name,
                        "Starting",
                        StartTime=stamp,
                        AttemptCount=1,
                        Metadata={},
                        _FirstStart=stamp,
                        StepDisplayName=step.raw.get("DisplayName"),
                        StepDescription=step.raw.get("Description"),
                    )

                row = self._write(row, change)
                self._launch(row, definition, name)
                row = self._reload(row)
                started += 1
                if row.data["PipelineExecutionStatus"] != "Executing":
                    return started

    def _launch(self, row, definition: Definition, name: str) -> None:
        ctx = self._context(row, definition, name)
        try:
            outcome = handler_for(ctx.step.type).start(ctx)
        except ExpressionError as exc:
            outcome = Outcome("Failed", metadata={}, failure=f"ClientError: {exc}")
        except ServiceError as exc:
            outcome = Outcome("Failed", metadata={}, failure=f"ClientError: {exc.message}")
        except Exception as exc:  # a bug must not leave the execution Executing
            log.exception("pipeline %s step %s: start failed", row.name, name)
            outcome = Outcome("Failed", metadata={}, failure=f"InternalError: {type(exc).__name__}: {exc}")
        self._record(row, definition, name, outcome)

    def _tend(self, row, definition: Definition, name: str) -> None:
        record = row.data["_Steps"][name]
        retry_at = record.get("_RetryAt")
        if retry_at is not None:
            if row.data["PipelineExecutionStatus"] == "Stopping" or utcnow() < retry_at:
                return
            self._retry(row, definition, name)
            return
        if record.get("StepStatus") == "Starting" and not record.get("_Launched"):
            self._launch(row, definition, name)  # a start a restart interrupted: do it again
            return
        ctx = self._context(row, definition, name)
        try:
            outcome = handler_for(ctx.step.type).poll(ctx)
        except ServiceError as exc:  # transient: look again next pass
            log.warning("pipeline %s step %s: poll failed: %s", row.name, name, exc.message)
            return
        except ExpressionError as exc:
            outcome = Outcome("Failed", failure=f"ClientError: {exc}")
        except Exception as exc:  # a bug must not leave the execution Executing
            log.exception("pipeline %s step %s: poll failed", row.name, name)
            outcome = Outcome("Failed", failure=f"InternalError: {type(exc).__name__}: {exc}")
        if outcome is not None:
            self._record(row, definition, name, outcome)

    def _retry(self, row, definition: Definition, name: str) -> None:
        def change(data: dict) -> None:
            record = data["_Steps"][name]
            set_step(
                data,
                name,
                "Starting",
                AttemptCount=int(record.get("AttemptCount") or 1) + 1,
                _RetryAt=None,
                _Job=None,
                _Launched=None,
                _PackageArn=None,
                FailureReason=None,
                Metadata={},
            )

        row = self._write(row, change)
        self._launch(row, definition, name)

    def _record(self, row, definition: Definition, name: str, outcome: Outcome) -> None:
        step = definition.steps[name]
        now = utcnow()
        delay = None
        if outcome.status == "Failed" and row.data["PipelineExecutionStatus"] == "Executing":
            record = row.data["_Steps"][name]
            delay = executions.retry_delay(step.raw.get("RetryPolicies"), outcome.retry_kind, record, now)

        def change(data: dict) -> None:
            record = data["_Steps"][name]
            members = dict(outcome.extra)
            members["_Launched"] = True
            if outcome.metadata is not None:
                members["Metadata"] = outcome.metadata
            if outcome.properties is not None:
                members["_Properties"] = outcome.properties
            if delay is not None:
                members["_RetryAt"] = now + dt.timedelta(seconds=delay)
                members["FailureReason"] = (outcome.failure or "")[:1024] or None
                status = "Executing" if record["StepStatus"] != "Executing" else None
                set_step(data, name, status, **members)
                return
            if outcome.status == "Failed":
                reason = outcome.failure or ""
                if outcome.retry_kind is not None and step.type not in ("Fail",):
                    reason += executions.retry_note(outcome.retry_kind, data["PipelineExecutionArn"], name)
                members["FailureReason"] = reason[:1024] or None
            set_step(
                data, name, outcome.status if outcome.status != record["StepStatus"] else None, **members
            )
            if outcome.status == "Succeeded" and step.type == "Condition":
                taken = bool((outcome.properties or {}).get("Outcome"))
                skipped = set(data.get("_Skipped") or [])
                for other in definition.steps.values():
                    if other.branch == (name, not taken):
                        skipped.add(other.name)
                        skipped |= definition.dependants(other.name)
                data["_Skipped"] = sorted(skipped)

        self._write(row, change)
        if delay is not None:
            log.info("pipeline %s step %s: retry in %.1f s", row.name, name, delay)

    def _stop_step(self, row, definition: Definition, name: str) -> None:
        record = row.data["_Steps"][name]
        if record.get("_RetryAt") is not None or record.get("StepStatus") == "Starting":
            outcome = Outcome("Stopped")
        else:
            ctx = self._context(row, definition, name)
            try:
                outcome = handler_for(ctx.step.type).stop(ctx) or Outcome("Stopping")
            except ServiceError as exc:
                log.warning("pipeline %s step %s: stop failed: %s", row.name, name, exc.message)
                outcome = Outcome("Stopping")

        def change(data: dict) -> None:
            current = data["_Steps"][name]
            status = outcome.status if outcome.status != current["StepStatus"] else None
            if current["StepStatus"] == "Starting" and status == "Stopping":
                status = "Stopped"
            set_step(data, name, status, _StopSent=True, _RetryAt=None)

        self._write(row, change)

    def _finish(self, row, status: str | None, reason: str | None = None) -> None:
        def change(data: dict) -> str:
            steps = (data.get("_Steps") or {}).values()
            final = status
            if final is None:
                if any(r.get("StepStatus") == "Failed" for r in steps):
                    final = "Failed"
                elif data["PipelineExecutionStatus"] == "Stopping" or any(
                    r.get("StepStatus") == "Stopped" for r in steps
                ):
                    final = "Stopped"
                else:
                    final = "Succeeded"
            if final == "Failed":
                data["FailureReason"] = reason or STEP_FAILURE
            else:
                data.pop("FailureReason", None)
            data["_EndTime"] = utcnow()
            return final

        self._write(row, change)
        self._definitions.pop(row.data["PipelineExecutionArn"], None)


def start(platform) -> None:
    PipelineReconciler.start(platform)
