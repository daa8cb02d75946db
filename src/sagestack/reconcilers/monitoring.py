"""The monitoring reconciler: moves Pending schedules to Scheduled, fires each schedule's executions when
they are due (``NOW`` once, cron at minute 0 of its hours), and follows every running execution's
processing job to the execution's final status, updating the schedule's alerts.

An execution stages the capture hour folders its window overlaps (``<capture>/<endpoint>/<variant>/
yyyy/mm/dd/hh``) and runs as a processing job created through ``domain.processing_jobs.create`` (the
processing reconciler runs it); with no captured data in the window it fails at once with "Job inputs had
no data" and no processing job, as SageMaker's do."""

from __future__ import annotations

import datetime as dt
import logging

from ..domain import monitoring, processing_jobs
from ..domain.monitoring import EXECUTION, EXECUTIONS, FAMILIES, SCHEDULE, SCHEDULES
from ..domain.state import mutate, utcnow, write_status
from ..execution.storage import DataError, JobStorage, split_uri
from ..store.errors import AlreadyExists
from ..store.resources import ConcurrentModification
from .base import Reconciler

log = logging.getLogger("sagestack.monitoring")


class MonitoringReconciler(Reconciler):
    name = "monitoring"
    interval = 1.0  # executions follow their processing jobs within a second

    def step(self) -> None:
        resources = self.platform.resources
        self.each(resources.in_states(SCHEDULE, ["Pending"]), self.activate, "monitoring schedule")
        self.each(resources.in_states(SCHEDULE, ["Scheduled"]), self.fire_due, "monitoring schedule")
        self.each(
            resources.in_states(EXECUTION, ["Pending", "InProgress", "Stopping"]),
            self.follow,
            "monitoring execution",
        )

    # -- schedules ----------------------------------------------------------------------------------

    def activate(self, schedule) -> None:
        reason = self._problem(schedule)
        stamp = utcnow()
        if reason:
            write_status(
                self.platform.resources,
                SCHEDULES,
                schedule,
                "Failed",
                "LastModifiedTime",
                stamp,
                FailureReason=reason,
            )
            return
        write_status(self.platform.resources, SCHEDULES, schedule, "Scheduled", "LastModifiedTime", stamp)
        self.wake()

    def _problem(self, schedule) -> str | None:
        try:
            self._definition(schedule)
        except LookupError as exc:
            return str(exc)
        return None

    def _definition(self, schedule) -> dict:
        config = schedule.data["MonitoringScheduleConfig"]
        if config.get("MonitoringJobDefinition"):
            return monitoring.normalized(config["MonitoringJobDefinition"], monitoring.DATA_QUALITY)
        mtype = config["MonitoringType"]
        family = FAMILIES[mtype]
        name = config["MonitoringJobDefinitionName"]
        row = self.platform.resources.get(schedule.account_id, schedule.region, family.resource_type, name)
        if row is None:
            raise LookupError(f"The {mtype} job definition {name} no longer exists.")
        return monitoring.normalized(row.data, mtype)

    def fire_due(self, schedule) -> None:
        data = schedule.data
        config = data["MonitoringScheduleConfig"].get("ScheduleConfig")
        cadence = monitoring.check_schedule_config(config)
        moment = utcnow()
        if cadence.once:
            if data.get("_NowFired"):
                return
            scheduled = moment.replace(microsecond=0)
            self._mark(schedule, _NowFired=True)
            self.launch(schedule, scheduled)
            return
        due = data.get("_NextRun")
        if due is None:
            self._mark(schedule, _NextRun=cadence.next_after(moment).timestamp())
            return
        if moment.timestamp() < due:
            return
        scheduled = dt.datetime.fromtimestamp(due, dt.timezone.utc)
        self._mark(schedule, _NextRun=cadence.next_after(moment).timestamp())
        self.launch(schedule, scheduled)

    def _mark(self, schedule, **changes) -> None:
        def change(row) -> None:
            if row.version != schedule.version:  # a handler changed it since this pass read it
                raise ConcurrentModification(row.name)
            row.data.update(changes)

        updated = mutate(
            self.platform.resources, schedule.account_id, schedule.region, SCHEDULE, schedule.name, change
        )
        if updated is not None:
            schedule.version = updated.version

    # -- executions ---------------------------------------------------------------------------------

    def launch(self, schedule, scheduled: dt.datetime) -> None:
        resources = self.platform.resources
        data = schedule.data
        config = data["MonitoringScheduleConfig"]
        stamp = utcnow()
        name = monitoring.execution_name(schedule.name, scheduled)
        execution = {
            "MonitoringScheduleName": schedule.name,
            "ScheduledTime": scheduled,
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            "MonitoringExecutionStatus": "Pending",
            "MonitoringType": data.get("MonitoringType"),
        }
        if data.get("EndpointName"):
            execution["EndpointName"] = data["EndpointName"]
        if data.get("_DefinitionName"):
            execution["MonitoringJobDefinitionName"] = data["_DefinitionName"]
        try:
            row = resources.create(
                schedule.account_id,
                schedule.region,
                EXECUTION,
                name,
                f"{schedule.arn}/execution/{int(scheduled.timestamp())}",
                execution,
                status="Pending",
            )
        except AlreadyExists:
            return
        try:
            definition = self._definition(schedule)
            plan, extra = self._plan(schedule, definition, scheduled, config.get("ScheduleConfig"))
        except _NoData as exc:
            monitoring.set_execution(resources, row, "Failed", FailureReason=str(exc))
            return
        except (LookupError, ValueError, DataError) as exc:
            monitoring.set_execution(resources, row, "Failed", FailureReason=f"ClientError: {exc}"[:1024])
            return
        if plan.merge is not None:  # model quality / bias: the ground-truth merge job first
            job = self._create_job(row, plan.merge, {"MonitoringScheduleArn": schedule.arn})
            monitoring.set_execution(
                resources,
                row,
                "InProgress",
                ProcessingJobArn=job.arn,
                _Stage="merge",
                _Analysis=plan.request,
                _Extra=extra,
                _DataRoot=plan.request["Environment"]["dataset_source"],
                _MergePrefix=plan.merge["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
                _MergeTag=plan.merge["Environment"]["merge_tag"],
            )
            return
        job = self._create_job(row, plan.request, extra)
        monitoring.set_execution(resources, row, "InProgress", ProcessingJobArn=job.arn)

    def _create_job(self, execution, request: dict, extra: dict):
        resources = self.platform.resources
        try:
            job = processing_jobs.create(
                resources, execution.account_id, execution.region, request, extra=extra
            )
        except AlreadyExists:
            job = resources.get(
                execution.account_id, execution.region, processing_jobs.TYPE, request["ProcessingJobName"]
            )
        processing = self.platform.get_component("processing-reconciler")
        if processing is not None:
            processing.wake()
        return job

    def _plan(self, schedule, definition: dict, scheduled: dt.datetime, schedule_config: dict | None):
        storage = JobStorage(self.platform, schedule.account_id, schedule.region)
        baselining = (definition["baseline"] or {}).get("BaseliningJobName")
        if baselining and not (definition["baseline"] or {}).get("ConstraintsResource"):
            job = self.platform.resources.get(
                schedule.account_id, schedule.region, processing_jobs.TYPE, baselining
            )
            if job is None:
                raise LookupError(f"The baselining job {baselining} does not exist.")
            definition = monitoring.with_baselining_output(definition, job.data)
        endpoint_input = definition["endpoint_input"]
        batch_input = definition["batch_input"]
        source = endpoint_input or batch_input
        start, end = monitoring.window(schedule_config, source, scheduled)
        folders = set(monitoring.hour_folders(start, end))
        data_inputs: list[tuple[str, str, str]] = []
        if endpoint_input:
            endpoint_name = endpoint_input["EndpointName"]
            endpoint = self.platform.resources.get(
                schedule.account_id, schedule.region, "endpoint", endpoint_name
            )
            if endpoint is None:
                raise LookupError(f"Endpoint {endpoint_name} does not exist.")
            capture = (endpoint.data.get("_plan") or {}).get("DataCaptureConfig") or {}
            if not capture.get("DestinationS3Uri") or not capture.get("EnableCapture", True):
                raise LookupError(f"Endpoint {endpoint_name} does not have data capture enabled.")
            prefix = capture["DestinationS3Uri"].rstrip("/")
            key_prefix = split_uri(prefix + "/")[1]
            root = endpoint_input.get("LocalPath") or monitoring.ENDPOINT_PATH
            seen = set()
            for bucket, key, _ in storage.list_prefix(f"{prefix}/{endpoint_name}/"):
                rel = key[len(key_prefix) :]
                parts = rel.split("/")  # endpoint/variant/yyyy/mm/dd/hh/file
                if len(parts) < 7 or "/".join(parts[2:6]) not in folders:
                    continue
                folder = "/".join(parts[:6])
                if folder in seen:
                    continue
                seen.add(folder)
                data_inputs.append(
                    (f"endpoint-{len(seen)}", f"s3://{bucket}/{key.rsplit('/', 1)[0]}/", f"{root}/{folder}")
                )
            if not data_inputs:
                raise _NoData(monitoring.NO_DATA_REASON)
            dataset_format = {
                "sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}
            }
            plan = monitoring.plan(
                definition,
                schedule_name=schedule.name,
                schedule_arn=schedule.arn,
                scheduled=scheduled,
                start=start,
                end=end,
                data_inputs=data_inputs,
                data_root=root,
                dataset_format=dataset_format,
                endpoint_name=endpoint_name,
                capture_prefix=prefix,
                folder=endpoint_name,
            )
        else:
            plan = self._batch_plan(
                schedule, definition, batch_input, storage, scheduled, start, end, folders
            )
        extra = {
            "MonitoringScheduleArn": schedule.arn,
            "_CloudWatchNamespace": monitoring.metrics_namespace(
                definition["type"], batch=not endpoint_input
            ),
        }
        return plan, extra

    def _batch_plan(self, schedule, definition, batch_input, storage, scheduled, start, end, folders):
        """Batch transform captures: the manifests under ``<dest>/input/yyyy/mm/dd/hh/`` (data capture of
        the transform jobs) list the data files the window analyses."""
        destination = batch_input["DataCapturedDestinationS3Uri"].rstrip("/")
        root = batch_input.get("LocalPath") or monitoring.BATCH_PATH
        data_inputs = []
        for bucket, key, _ in storage.list_prefix(f"{destination}/input/"):
            rel = key.split("/input/", 1)[-1]
            parts = rel.split("/")
            if len(parts) < 5 or "/".join(parts[:4]) not in folders:
                continue
            for b, k, _ in storage.manifest_entries(f"s3://{bucket}/{key}"):
                number = len(data_inputs) + 1
                data_inputs.append((f"batch-{number}", f"s3://{b}/{k}", f"{root}/{number}"))
        if not data_inputs:
            raise _NoData(monitoring.NO_DATA_REASON)
        fmt = batch_input["DatasetFormat"]
        if "Csv" in fmt:
            dataset_format = {"csv": {"header": bool((fmt["Csv"] or {}).get("Header", False))}}
        elif "Json" in fmt:
            dataset_format = {"json": {"lines": bool((fmt["Json"] or {}).get("Line", True))}}
        else:
            dataset_format = {"parquet": {}}
        return monitoring.plan(
            definition,
            schedule_name=schedule.name,
            schedule_arn=schedule.arn,
            scheduled=scheduled,
            start=start,
            end=end,
            data_inputs=data_inputs,
            data_root=root,
            dataset_format=dataset_format,
            endpoint_name=None,
            capture_prefix=None,
            folder="batch-transform",
        )

    def follow(self, execution) -> None:
        resources = self.platform.resources
        arn = execution.data.get("ProcessingJobArn")
        if not arn:
            return
        job = resources.get_by_arn(arn)
        if job is None:
            monitoring.set_execution(
                resources,
                execution,
                "Failed",
                FailureReason="The execution's processing job no longer exists.",
            )
            return
        if execution.data.get("_Stage") == "merge":
            self._after_merge(execution, job)
            return
        status = monitoring.execution_status(job.status, job.data.get("ExitMessage"))
        if status is None or status == execution.status:
            return
        extra = {}
        if status == "Failed":
            extra["FailureReason"] = job.data.get("FailureReason") or "The processing job failed."
        EXECUTIONS.check(execution.status, status)
        monitoring.set_execution(resources, execution, status, **extra)
        if EXECUTIONS.terminal(status):
            self.record_alert(execution, status)

    def _after_merge(self, execution, job) -> None:
        """The merge job ended: start the analysis job on the merged files (or end the execution)."""
        resources = self.platform.resources
        data = execution.data
        if job.status in ("InProgress", "Stopping"):
            return
        if job.status != "Completed":
            reason = job.data.get("FailureReason") or f"The ground-truth merge job {job.status.lower()}."
            status = "Stopped" if job.status == "Stopped" else "Failed"
            monitoring.set_execution(
                resources, execution, status, FailureReason=reason if status == "Failed" else None
            )
            self.record_alert(execution, status)
            return
        storage = JobStorage(self.platform, execution.account_id, execution.region)
        prefix = data["_MergePrefix"].rstrip("/")
        key_prefix = split_uri(prefix + "/")[1]
        files = [
            (bucket, key, key[len(key_prefix) :].rsplit("/", 1)[0])
            for bucket, key, _ in storage.list_prefix(prefix + "/")
            if key.endswith(f"-{data['_MergeTag']}.c000.jsonl")
        ]
        request = monitoring.merged_inputs(data["_Analysis"], files, data["_DataRoot"])
        analysis = self._create_job(execution, request, data["_Extra"])

        def change(row) -> None:
            for key in ("_Stage", "_Analysis", "_Extra"):
                row.data.pop(key, None)
            row.data["ProcessingJobArn"] = analysis.arn
            row.data["LastModifiedTime"] = utcnow()

        mutate(resources, execution.account_id, execution.region, EXECUTION, execution.name, change)

    def record_alert(self, execution, status: str) -> None:
        """Each finished execution is a datapoint (violations or not); an alert goes InAlert when at least
        DatapointsToAlert of the last EvaluationPeriod datapoints had violations."""
        resources = self.platform.resources
        name = execution.data["MonitoringScheduleName"]

        def change(schedule) -> None:
            points = schedule.data.setdefault("_Datapoints", [])
            points.append(status == "CompletedWithViolations")
            del points[:-100]
            stamp = utcnow()
            for alert in schedule.data.get("_Alerts") or []:
                recent = points[-int(alert["EvaluationPeriod"]) :]
                new = "InAlert" if sum(recent) >= int(alert["DatapointsToAlert"]) else "OK"
                if new != alert["AlertStatus"]:
                    alert["AlertStatus"] = new
                    alert["LastModifiedTime"] = stamp
                    schedule.data.setdefault("_AlertHistory", []).append(
                        {
                            "MonitoringScheduleName": name,
                            "MonitoringAlertName": alert["MonitoringAlertName"],
                            "CreationTime": stamp,
                            "AlertStatus": new,
                        }
                    )

        mutate(resources, execution.account_id, execution.region, SCHEDULE, name, change)


class _NoData(Exception):
    pass


def start(platform) -> None:
    MonitoringReconciler.start(platform)
