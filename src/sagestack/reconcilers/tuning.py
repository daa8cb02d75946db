"""The tuning reconciler: launches a tuning job's children (real training jobs, through the same
``domain.training_jobs.create`` CreateTrainingJob uses) up to ``MaxParallelTrainingJobs`` at a time,
asks the strategy for each child's values, writes the counters and the best child, stops children on
``StopHyperParameterTuningJob`` or a completion criterion, and ends the job.

Every pass reads the tuning job and its children from the store, so a restarted server goes on where
the store says the job is (children lost in the restart are failed by the training reconciler and
counted like any failed child).
"""

from __future__ import annotations

import logging
import zlib

from ..domain import training_jobs, tuning_jobs, tuning_search, tuning_stopping
from ..domain.state import IllegalTransition, mutate, utcnow
from ..domain.training_jobs import TRAINING
from ..domain.tuning_jobs import TUNING, TYPE
from ..protocol.errors import ServiceError
from ..store.errors import AlreadyExists
from ..store.metrics import MetricId, metric_store
from .base import Reconciler

log = logging.getLogger("sagestack.tuning")


class TuningReconciler(Reconciler):
    name = "tuning"

    def __init__(self, platform):
        super().__init__(platform)
        #: Objective series of children that ended (they no longer change): (account, region, name) →
        #: values.
        self._ended_series: dict[tuple[str, str, str], list[float]] = {}

    def step(self) -> None:
        jobs = self.platform.resources.in_states(TYPE, ["InProgress", "Stopping"])
        self.each(jobs, self._advance, "tuning job")

    # -- one tuning job --------------------------------------------------------------------

    def _advance(self, job) -> None:
        resources = self.platform.resources
        kids = tuning_jobs.children(resources, job)
        running = [c for c in kids if not TRAINING.terminal(c.status)]
        ending = "Stopped" if job.status == "Stopping" else job.data.get("_Ending")
        if ending is None:
            end = self._criterion(job, kids, running)
            if end is not None:
                ending, extra = end
                job = self._mark_ending(job, ending, extra)
                if job is None:
                    return
        if ending is not None:
            self._stop(running)
            tuning_jobs.write_report(resources, job, kids, status=None if running else ending)
            return
        if self.platform.stopping:
            return
        self._stop_early(job, kids, running)
        launched = self._launch(job, kids, running)
        tuning_jobs.write_report(resources, job, kids)
        if launched:
            self._wake_training()

    def _criterion(self, job, kids, running) -> tuple[str, dict] | None:
        """Why the job ends now (its final status and the members to record), or None."""
        data = job.data
        config = data["HyperParameterTuningJobConfig"]
        limits = config["ResourceLimits"]
        objective = tuning_jobs.definitions(data)[0]["TuningObjective"]
        maximize = objective["Type"] == "Maximize"
        best = tuning_jobs.best_child(kids)
        max_runtime = limits.get("MaxRuntimeInSeconds")
        if max_runtime and tuning_jobs.runtime_seconds(data) >= max_runtime:
            return "Completed", {}
        criteria = config.get("TuningJobCompletionCriteria") or {}
        target = criteria.get("TargetObjectiveMetricValue")
        if target is not None and best is not None:
            value = best.data["_ObjectiveValue"]
            if value == target or tuning_jobs.better(value, target, maximize):
                return "Completed", {}
        streak = None
        patience = (criteria.get("BestObjectiveNotImproving") or {}).get(
            "MaxNumberOfTrainingJobsNotImproving"
        )
        if patience:
            streak = tuning_jobs.not_improving(kids, maximize)
            if streak >= patience:
                return "Completed", {}
        if (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence") == "Enabled":
            streak = tuning_jobs.not_improving(kids, maximize) if streak is None else streak
            if streak >= max(10, limits["MaxNumberOfTrainingJobs"] // 10):
                details = dict(data.get("TuningJobCompletionDetails") or {})
                details["ConvergenceDetectedTime"] = utcnow()
                return "Completed", {"TuningJobCompletionDetails": details}
        failed = [c for c in kids if c.status == "Failed"]
        succeeded = best is not None
        if (
            not succeeded
            and failed
            and (
                len(failed) >= min(tuning_jobs.FAILURES_BEFORE_GIVING_UP, limits["MaxNumberOfTrainingJobs"])
                or (not running and len(kids) >= limits["MaxNumberOfTrainingJobs"])
            )
        ):
            last = failed[-1]
            reason = (
                f"The tuning job failed: {len(failed)} training jobs failed and none reported the "
                f"objective metric {objective['MetricName']}. Last failure ({last.name}): "
                f"{last.data.get('FailureReason', 'unknown')}"
            )
            return "Failed", {"FailureReason": reason[:1024]}
        if not running and len(kids) >= limits["MaxNumberOfTrainingJobs"]:
            if succeeded:
                return "Completed", {}
            reason = (
                f"No training job reported the objective metric {objective['MetricName']}; check that the "
                "training code prints it and that the metric definition's regex matches."
            )
            return "Failed", {"FailureReason": reason}
        return None

    def _mark_ending(self, job, status: str, extra: dict):
        def change(row) -> None:
            if row.status != "InProgress":
                return
            row.data["_Ending"] = status
            row.data.update(extra)

        return mutate(self.platform.resources, job.account_id, job.region, TYPE, job.name, change)

    def _stop(self, running) -> None:
        stopped = False
        for child in running:
            if child.status != "InProgress":
                continue
            try:
                training_jobs.request_stop(
                    self.platform.resources, child.account_id, child.region, child.name
                )
                stopped = True
            except (ServiceError, IllegalTransition):
                continue  # it finished meanwhile
        if stopped:
            self._wake_training()

    # -- early stopping (Auto) and Hyperband -----------------------------------------------

    def _series(self, child) -> list[float]:
        key = (child.account_id, child.region, child.name)
        if key in self._ended_series:
            return self._ended_series[key]
        metric = MetricId.of(
            training_jobs.METRIC_NAMESPACE,
            child.data["_Tuning"]["Objective"]["MetricName"],
            {"Host": f"{child.name}/algo-1"},
        )
        values = metric_store(self.platform).series(child.account_id, child.region, metric)
        if TRAINING.terminal(child.status):
            self._ended_series[key] = values
        return values

    def _stop_early(self, job, kids, running) -> None:
        config = job.data["HyperParameterTuningJobConfig"]
        hyperband = config["Strategy"] == "Hyperband"
        if not hyperband and config.get("TrainingJobEarlyStoppingType", "Off") != "Auto":
            return
        live = [
            c for c in running if c.status == "InProgress" and c.data.get("SecondaryStatus") == "Training"
        ]
        if not live:
            return
        maximize = tuning_jobs.definitions(job.data)[0]["TuningObjective"]["Type"] == "Maximize"
        others = {c.name: self._series(c) for c in kids if c.data.get("TrainingStartTime")}
        current = {c.name: others.get(c.name) or [] for c in live}
        if hyperband:
            settings = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
            static = tuning_jobs.definitions(job.data)[0].get("StaticHyperParameters") or {}
            high = settings.get("MaxResource") or next(
                int(float(static[k])) for k in tuning_jobs.HYPERBAND_EPOCH_NAMES if k in static
            )
            names = tuning_stopping.hyperband(current, others, maximize, settings.get("MinResource", 1), high)
        else:
            names = tuning_stopping.median_rule(current, others, maximize)
        if names:
            log.info("tuning job %s: stopping %s early", job.name, ", ".join(names))
            self._stop([c for c in live if c.name in names])

    def _wake_training(self) -> None:
        component = self.platform.get_component("training-reconciler")
        if component is not None:
            component.wake()

    # -- launching children ----------------------------------------------------------------

    def _launch(self, job, kids, running) -> int:
        data = job.data
        config = data["HyperParameterTuningJobConfig"]
        limits = config["ResourceLimits"]
        slots = min(
            limits["MaxParallelTrainingJobs"] - len(running), limits["MaxNumberOfTrainingJobs"] - len(kids)
        )
        launched = 0
        for _ in range(max(0, slots)):
            if self.platform.stopping:
                break
            index = len(kids) + 1
            try:
                definition, tuned = self._next_values(job, kids, index)
            except ImportError as exc:  # optuna (the algorithms extra) is not installed
                strategy = data["HyperParameterTuningJobConfig"]["Strategy"]
                reason = (
                    f"The {strategy} strategy needs {exc.name}, which is not installed: pip install "
                    "'sagestack[algorithms]', or use the Random or Grid strategy."
                )
                self._mark_ending(job, "Failed", {"FailureReason": reason})
                break
            name = tuning_jobs.child_name(job.name, index)
            request = tuning_jobs.child_request(definition, name, tuned, data.get("_Tags"))
            extra = {
                "TuningJobArn": data["HyperParameterTuningJobArn"],
                "_Tuning": {
                    "TuningJobName": job.name,
                    "Index": index,
                    "DefinitionName": definition.get("DefinitionName"),
                    "TunedHyperParameters": tuned,
                    "Objective": definition["TuningObjective"],
                },
            }
            try:
                child = training_jobs.create(
                    self.platform.resources,
                    job.account_id,
                    job.region,
                    request,
                    parent=data["_ChildKey"],
                    extra=extra,
                )
            except AlreadyExists:
                continue  # eight random hex digits collided: the next pass names it again
            kids.append(child)
            running.append(child)
            launched += 1
        return launched

    def _seed(self, data: dict) -> int:
        seed = data["HyperParameterTuningJobConfig"].get("RandomSeed")
        return int(seed) if seed is not None else zlib.crc32(data["_ChildKey"].encode())

    def _next_values(self, job, kids, index: int) -> tuple[dict, dict[str, str]]:
        """The definition child ``index`` (1-based) trains and its tuned values."""
        data = job.data
        config = data["HyperParameterTuningJobConfig"]
        strategy = config["Strategy"]
        defs = tuning_jobs.definitions(data)
        seed = self._seed(data)
        if strategy == "Grid":
            offset = index - 1
            for definition in defs:
                params = tuning_search.parse_ranges(definition["HyperParameterRanges"], strategy)
                size = tuning_search.grid_size(params)
                if offset < size:
                    return definition, tuning_search.grid_point(params, offset)
                offset -= size
            raise RuntimeError("grid exhausted")
        definition = defs[(index - 1) % len(defs)]
        params = tuning_search.parse_ranges(definition["HyperParameterRanges"], strategy)
        if strategy != "Bayesian" or not params:
            return definition, tuning_search.random_point(params, seed, index)
        name = definition.get("DefinitionName")
        mine = [c for c in kids if c.data["_Tuning"].get("DefinitionName") == name]
        finished = [
            (c.data["_Tuning"]["TunedHyperParameters"], c.data.get("_ObjectiveValue"))
            for c in mine
            if TRAINING.terminal(c.status)
        ]
        finished.extend(data.get("_WarmStartPoints") or [])
        pending = [c.data["_Tuning"]["TunedHyperParameters"] for c in mine if not TRAINING.terminal(c.status)]
        maximize = definition["TuningObjective"]["Type"] == "Maximize"
        return definition, tuning_search.bayesian_point(
            params,
            seed,
            index,
            maximize,
            config["ResourceLimits"]["MaxNumberOfTrainingJobs"],
            finished,
            pending,
        )


def start(platform) -> None:
    TuningReconciler.start(platform)


__all__ = ["TuningReconciler", "TUNING", "start"]
