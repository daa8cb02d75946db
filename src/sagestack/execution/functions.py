"""Running a Lambda function: one process per invocation, with Lambda's event/context contract.

:func:`invoke` is synchronous (Invoke's RequestResponse; a reconciler may call it too: a scheduler
target, a pipeline's Lambda step); :func:`invoke_async` queues one on the platform's function invoker
(InvocationType Event). Python runtimes run on the server's own Python (it has boto3, as Lambda's
runtimes do), whatever minor version the runtime names; the handler's process gets the function's
Environment, the ``AWS_LAMBDA_*`` variables, credentials for the function's role and
``AWS_ENDPOINT_URL`` (execution.access), so boto3 inside reaches this server. A run past the function's
Timeout is killed ("Task timed out after N seconds"). Its output goes to CloudWatch Logs,
``/aws/lambda/<name>``, between START and END/REPORT lines.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..domain import functions
from ..domain.functions import FunctionError
from ..store.logs import log_store
from .access import job_access

log = logging.getLogger("sagestack.functions")
BOOTSTRAP = Path(__file__).with_name("function_bootstrap.py")
TAIL_BYTES = 4096
#: Variables of the server's own environment a function's process keeps.
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "SYSTEMROOT")


@dataclass
class Invocation:
    """What one invocation answered: Lambda's StatusCode, the payload, FunctionError ("Unhandled") and
    the log text (START … REPORT) for LogType Tail."""

    status_code: int
    payload: bytes
    function_error: str | None
    log_text: str
    executed_version: str
    request_id: str

    @property
    def log_tail(self) -> str:
        """X-Amz-Log-Result: the last 4 KB of the log, base64."""
        return base64.b64encode(self.log_text.encode("utf-8")[-TAIL_BYTES:]).decode()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stream_name(version: str) -> str:
    return time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{version}]" + uuid.uuid4().hex


def invoke(
    platform,
    *,
    account: str,
    region: str,
    function: str,
    payload: bytes = b"",
    qualifier: str | None = None,
    client_context: dict | None = None,
) -> Invocation:
    """Run the function named by ``function`` (name or ARN) with ``payload`` (JSON bytes) and wait for
    it. FunctionError (domain) when the function does not exist, is not Active or the payload is not
    JSON; a failing handler is an Invocation with ``function_error`` set."""
    row, ref_qualifier = functions.resolve(platform.resources, account, region, function)
    qualifier = qualifier or ref_qualifier
    config = functions.configuration(row, qualifier)
    if config.get("State") != "Active":
        raise FunctionError(
            "Conflict",
            "The operation cannot be performed at this time. The function is currently in the following state: "
            + str(config.get("State")),
        )
    if config.get("Runtime") not in functions.PYTHON_RUNTIMES:
        raise FunctionError(
            "InvalidRuntime", f"The runtime parameter of {config.get('Runtime')} is not supported"
        )
    try:
        event = json.loads(payload) if payload and payload.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise FunctionError("InvalidRequestContent", "Could not parse request body into json") from None
    data = row.data if not qualifier or qualifier == "$LATEST" else row.data["Versions"][qualifier]
    task_root = functions.unpack(data)
    version = config.get("Version", "$LATEST")
    request_id = str(uuid.uuid4())
    timeout = int(config.get("Timeout") or 3)
    group = f"/aws/lambda/{row.name}"
    stream = _stream_name(version)
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    access, client_dir = _credentials(platform).for_run(
        row.account_id, row.region, config.get("Role", ""), timeout
    )
    env.update(access)
    env.update((config.get("Environment") or {}).get("Variables") or {})
    env.update(
        {
            "_HANDLER": config.get("Handler", "lambda_function.lambda_handler"),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.get('Runtime')}",
            "AWS_LAMBDA_FUNCTION_NAME": row.name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "SAGESTACK_LAMBDA_REQUEST_ID": request_id,
            "SAGESTACK_LAMBDA_INVOKED_ARN": functions.function_arn(
                row.account_id, row.region, row.name, qualifier
            ),
        }
    )
    if client_dir:
        env["PYTHONPATH"] = client_dir
    lines: list[tuple[int, str]] = [(_now_ms(), f"START RequestId: {request_id} Version: {version}")]
    with tempfile.TemporaryDirectory(prefix="sagestack-lambda-") as scratch:
        event_path, result_path = Path(scratch) / "event.json", Path(scratch) / "result.json"
        event_path.write_text(json.dumps({"event": event, "client_context": client_context}))
        started = time.monotonic()
        env["SAGESTACK_LAMBDA_DEADLINE_MS"] = str(_now_ms() + timeout * 1000)
        proc = subprocess.Popen(
            [sys.executable, "-u", str(BOOTSTRAP), str(event_path), str(result_path)],
            cwd=task_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        running = _running(platform)
        running.add(proc)
        timed_out = False
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            output, _ = proc.communicate()
        finally:
            running.discard(proc)
        duration_ms = (time.monotonic() - started) * 1000.0
        text = output.decode("utf-8", "replace")
        lines.extend((_now_ms(), line) for line in text.splitlines())
        result = None
        if not timed_out and result_path.exists():
            try:
                result = json.loads(result_path.read_text())
            except ValueError:
                result = None
    max_mb = 0
    if timed_out:
        message = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}.{_now_ms() % 1000:03d}Z {request_id} Task timed out after {timeout:.2f} seconds"
        lines.append((_now_ms(), message))
        body, error = json.dumps({"errorMessage": message}).encode(), "Unhandled"
    elif result is None:
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"
        lines.append((_now_ms(), message))
        body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()
        error = "Unhandled"
    else:
        body = result["payload"].encode()
        error = None if result["ok"] else "Unhandled"
        max_mb = int(result.get("max_rss_kb", 0)) // 1024
    lines.append((_now_ms(), f"END RequestId: {request_id}"))
    lines.append(
        (
            _now_ms(),
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
            f"{int(duration_ms) + 1} ms\tMemory Size: {config.get('MemorySize', 128)} MB\tMax Memory Used: {max_mb} MB"
            + ("\tStatus: timeout" if timed_out else ""),
        )
    )
    try:
        log_store(platform).append(row.account_id, row.region, group, stream, lines)
    except Exception:  # the invocation's answer matters more than its log
        log.exception("writing the log of %s failed", row.name)
    return Invocation(200, body, error, "\n".join(text for _, text in lines) + "\n", version, request_id)


class FunctionCredentials:
    """Temporary credentials for functions' roles, reused across invocations (as a Lambda execution
    environment keeps its role's credentials) while they have more than a run's time left."""

    LIFETIME = 3600.0

    def __init__(self, platform):
        self.platform = platform
        self._lock = threading.Lock()
        self._issued: dict[tuple[str, str, str], tuple[float, dict[str, str], str | None]] = {}

    def for_run(
        self, account: str, region: str, role: str, timeout: float
    ) -> tuple[dict[str, str], str | None]:
        key = (account, region, role)
        now = time.time()
        with self._lock:
            issued = self._issued.get(key)
            if issued is not None and issued[0] - now > timeout + 300:
                return dict(issued[1]), issued[2]
        env, client_dir = job_access(self.platform, account, region, role, self.LIFETIME)
        with self._lock:
            self._issued[key] = (now + self.LIFETIME, env, client_dir)
        return dict(env), client_dir


def _credentials(platform) -> FunctionCredentials:
    return platform.component("function-credentials", FunctionCredentials)


class RunningInvocations:
    """The platform's invocation processes still running: a server stop kills them as soon as it is
    asked for (a Lambda run never outlives the server that started it, nor holds its stop up)."""

    def __init__(self, platform):
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen] = set()
        platform.on_drain(self.kill_all)

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _running(platform) -> RunningInvocations:
    return platform.component("function-processes", RunningInvocations)


def invoker(platform) -> ThreadPoolExecutor:
    """The platform's pool for asynchronous (Event) invocations."""

    def build(p) -> ThreadPoolExecutor:
        pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lambda-event")
        p.on_shutdown(lambda: pool.shutdown(wait=False, cancel_futures=True))
        return pool

    return platform.component("function-invoker", build)


def invoke_async(
    platform, *, account: str, region: str, function: str, payload: bytes = b"", qualifier: str | None = None
) -> str:
    """Queue an invocation (InvocationType Event) and return its request id at once; its outcome is only
    in the function's logs (sagestack keeps no retry queue: a server stop drops queued events)."""
    row, _ = functions.resolve(platform.resources, account, region, function)
    if row.data.get("State") != "Active":
        raise FunctionError(
            "Conflict",
            "The operation cannot be performed at this time. The function is currently in the following state: "
            + str(row.data.get("State")),
        )

    def run() -> None:
        try:
            outcome = invoke(
                platform,
                account=account,
                region=region,
                function=function,
                payload=payload,
                qualifier=qualifier,
            )
            if outcome.function_error:
                log.info("event invocation of %s failed: %s", row.name, outcome.payload[:500])
        except Exception:
            log.exception("event invocation of %s failed", row.name)

    invoker(platform).submit(run)
    return str(uuid.uuid4())
