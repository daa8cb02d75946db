"""Which SageMaker SDK flows the test suite covers end to end, read from the tests' ``sdk_flow`` markers.

The flows are those traced in the project's SDK-flow spec (which API calls the SageMaker Python SDK makes
in common flows, ``flow00`` … ``flow12``), plus a few client flows beyond it. A test claims a flow with a
marker whose first argument starts with the flow's id; the rest of the string (or a second argument) says
which part of the flow it drives::

    @pytest.mark.sdk_flow("flow01", "fit(wait=False), deploy, predict in CSV, JSON and LibSVM")
    def test_csv_job_matches_in_process_xgboost(...): ...

    pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("flow02 record_set estimators")]

The markers are read from the test files' syntax trees (no test module is imported, so this is fast
and needs none of the tests' dependencies). ``render_markdown()`` is ``docs/sdk-flows.md``; regenerate
it with::

    python -m sagestack.sdk_flows > docs/sdk-flows.md
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "sdk_flow"
REGENERATE_COMMAND = "python -m sagestack.sdk_flows > docs/sdk-flows.md"
ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    sdk: str  # the SDK calls the flow is made of


#: The flows of the SDK-flow spec (§4), hosting extras split by part, then flows beyond the spec.
FLOWS: tuple[Flow, ...] = (
    Flow("flow00", "S3 helpers", "`Session.default_bucket`, `upload_data`, `S3Uploader`, `S3Downloader`"),
    Flow(
        "flow01",
        "XGBoost estimator end to end",
        "`image_uris.retrieve('xgboost')`, `Estimator.fit`, `deploy`, `predict`, `transformer().transform`, "
        "`delete_endpoint`",
    ),
    Flow(
        "flow02",
        "Amazon estimators with `record_set`",
        "`LinearLearner`, `KMeans`, `PCA` (and `KNN`, `FactorizationMachines`): `record_set`, `fit`, "
        "`deploy`, RecordIO-protobuf `predict`",
    ),
    Flow(
        "flow03",
        "Script mode and framework models",
        "`SKLearn`/`PyTorch` estimators (`entry_point`, `source_dir`), `SKLearnModel`/`PyTorchModel` "
        "deploy (repack)",
    ),
    Flow("flow04", "Processing", "`SKLearnProcessor.run`, `ScriptProcessor.run`"),
    Flow(
        "flow05",
        "Hyperparameter tuning",
        "`HyperparameterTuner.fit`, `best_training_job`, `analytics().dataframe()`, `tuner.deploy`",
    ),
    Flow(
        "flow06",
        "Pipelines",
        "`Pipeline.upsert`, `start`, `execution.describe/list_steps/wait`, `delete` "
        "(flow06b: more step types)",
    ),
    Flow(
        "flow07a",
        "Hosting: data capture",
        "`deploy(data_capture_config=...)`, `predict(target_variant, inference_id)`",
    ),
    Flow("flow07b", "Hosting: update an endpoint", "`predictor.update_endpoint`, `Session.update_endpoint`"),
    Flow(
        "flow07c",
        "Hosting: weighted production variants",
        "`production_variant`, `endpoint_from_production_variants`, `UpdateEndpointWeightsAndCapacities`",
    ),
    Flow("flow07d", "Hosting: shadow variants", "`CreateEndpointConfig(ShadowProductionVariants=...)`"),
    Flow(
        "flow07e",
        "Hosting: autoscaling",
        "application-autoscaling `RegisterScalableTarget`, `PutScalingPolicy` (target tracking)",
    ),
    Flow("flow07f", "Hosting: serverless inference", "`ServerlessInferenceConfig`"),
    Flow("flow07g", "Hosting: asynchronous inference", "`AsyncInferenceConfig`, `predict_async`"),
    Flow("flow07h", "Hosting: clean-up", "`predictor.delete_model`, `delete_endpoint`"),
    Flow("flow08", "Model Monitor", "`DefaultModelMonitor.suggest_baseline`, `create_monitoring_schedule`"),
    Flow("flow09", "Feature Store", "`FeatureGroup.create`, `ingest`, `get_record`, `delete`"),
    Flow("flow10", "Experiments", "`Run(...)`, `log_parameter`, `log_metric`, `log_file`, `load_run`"),
    Flow("flow11", "AutoML", "`AutoML.fit`, `AutoMLV2.fit`, `describe_auto_ml_job`"),
    Flow(
        "flow12",
        "SDK v3",
        "`ModelTrainer.train`, sagemaker-core resources (`TrainingJob.get`, `Endpoint.create/invoke`)",
    ),
    Flow(
        "clarify",
        "SageMaker Clarify (beyond the spec)",
        "`SageMakerClarifyProcessor.run_pre_training_bias`, `run_post_training_bias`, `run_bias`, "
        "`run_explainability`; online explainability (`ClarifyExplainerConfig`)",
    ),
    Flow(
        "remote-function",
        "Remote functions (beyond the spec)",
        "`@remote`, `RemoteExecutor.submit/map`, `Future.result`",
    ),
    Flow("pipeline-model", "Inference pipelines (beyond the spec)", "`PipelineModel.deploy`, `predict`"),
    Flow(
        "aws-cli", "AWS CLI (beyond the spec)", "`aws s3 cp/sync/ls/rm`, `aws logs ...`, `aws sagemaker ...`"
    ),
    Flow(
        "lambda-schedules",
        "Lambda helper and pipeline schedules (beyond the spec)",
        "`sagemaker.lambda_helper.Lambda` create/upsert/invoke/delete, `PipelineSchedule` through the SDK's "
        "EventBridge Scheduler helper (what `put_triggers`/`describe_trigger`/`delete_triggers` call)",
    ),
    Flow(
        "byoc",
        "Bring your own container (beyond the spec)",
        "generic `Estimator(image_uri=<your image>).fit`, `Model(image_uri=...).deploy`, `predict`, "
        "`transformer().transform`, run by podman/docker",
    ),
)
FLOW_IDS = tuple(f.id for f in FLOWS)


@dataclass(frozen=True)
class Claim:
    """One ``sdk_flow`` marker on one test (or on every test of a module)."""

    flow: str
    test: str  # node id, relative to the repository root: tests/e2e/test_xgboost.py::test_x
    note: str = ""
    line: int = 0


@dataclass
class Coverage:
    flow: Flow
    claims: list[Claim] = field(default_factory=list)


def _marker_call(node: ast.AST) -> ast.Call | None:
    """``pytest.mark.sdk_flow(...)`` (or ``mark.sdk_flow(...)``) → the call node."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == MARKER:
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "mark":
            return node
        if isinstance(owner, ast.Name) and owner.id == "mark":
            return node
    return None


def _strings(call: ast.Call) -> list[str]:
    values = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    values += [
        k.value.value
        for k in call.keywords
        if isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
    ]
    return values


def _claims_of(call: ast.Call, test: str) -> Claim:
    strings = _strings(call)
    if not strings:
        raise ValueError(f"{test}: @pytest.mark.{MARKER}(...) needs the flow id as its first argument")
    head, _, rest = strings[0].strip().partition(" ")
    note = " ".join(s.strip() for s in [rest, *strings[1:]] if s.strip())
    return Claim(head, test, note, call.lineno)


def _module_markers(tree: ast.Module) -> list[ast.Call]:
    calls = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            calls += [c for c in map(_marker_call, values) if c is not None]
    return calls


def _tests(body: Iterable[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.AST]]:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield f"{prefix}::{node.name}", node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from ((name, test) for name, test in _tests(node.body, f"{prefix}::{node.name}"))


def claims_in_file(path: Path, root: Path = ROOT) -> list[Claim]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module_id = path.resolve().relative_to(root.resolve()).as_posix()
    module_calls = _module_markers(tree)
    claims = []
    for test, node in _tests(tree.body, module_id):
        for call in module_calls:
            claims.append(_claims_of(call, test))
        for decorator in getattr(node, "decorator_list", []):
            call = _marker_call(decorator)
            if call is not None:
                claims.append(_claims_of(call, test))
    return claims


def collect(tests: Path = TESTS, root: Path = ROOT) -> list[Claim]:
    """Every ``sdk_flow`` claim under ``tests`` (files named ``test_*.py``), in path and line order."""
    claims: list[Claim] = []
    for path in sorted(tests.rglob("test_*.py")):
        if "__pycache__" not in path.parts:
            claims += claims_in_file(path, root)
    return claims


def unknown_flows(claims: Iterable[Claim]) -> list[Claim]:
    return [c for c in claims if c.flow not in FLOW_IDS]


def coverage(claims: Iterable[Claim] | None = None) -> list[Coverage]:
    claims = collect() if claims is None else list(claims)
    bad = unknown_flows(claims)
    if bad:
        raise ValueError(
            "unknown flow ids in sdk_flow markers: "
            + ", ".join(f"{c.flow!r} ({c.test})" for c in bad)
            + f"; known: {', '.join(FLOW_IDS)}"
        )
    table = {f.id: Coverage(f) for f in FLOWS}
    for claim in claims:
        table[claim.flow].claims.append(claim)
    return list(table.values())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[Coverage] | None = None) -> str:
    rows = coverage() if rows is None else rows
    covered = sum(1 for r in rows if r.claims)
    lines = [
        "# SageMaker SDK flows covered by end-to-end tests",
        "",
        f"Generated by `{REGENERATE_COMMAND}` from the `@pytest.mark.{MARKER}(...)` markers in `tests/`;",
        "`tests/docs/test_generated_docs.py` fails when this file is stale. A flow is the sequence of API",
        "calls the SageMaker Python SDK makes for one common task (traced call by call in the project's",
        "SDK-flow spec); a test listed here drives that flow through the unchanged SDK (or, where the flow",
        "itself is boto3 calls, through boto3) against a real server and checks what comes back.",
        "A flow without a test may still work; it is just not proven by the suite.",
        "",
        f"{covered} of {len(rows)} flows have at least one test.",
        "",
        "| flow | what | SDK calls | tests |",
        "|---|---|---|---|",
    ]
    for row in rows:
        count = len({c.test for c in row.claims})
        lines.append(
            f"| [{row.flow.id}](#{row.flow.id}) | {_cell(row.flow.title)} | {_cell(row.flow.sdk)} | "
            f"{count if count else '—'} |"
        )
    for row in rows:
        lines += ["", f"## {row.flow.id}", "", f"**{row.flow.title}**: {row.flow.sdk}", ""]
        if not row.claims:
            lines.append("No end-to-end test yet.")
            continue
        for claim in row.claims:
            lines.append(f"- `{claim.test}`" + (f": {claim.note}" if claim.note else ""))
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render_markdown())


if __name__ == "__main__":
    main()
