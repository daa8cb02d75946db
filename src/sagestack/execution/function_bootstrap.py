"""The process one Lambda invocation runs in (run as a script, never imported by the server): imports
the handler from ``LAMBDA_TASK_ROOT``, calls it with the event and a context object shaped as Lambda's,
and writes the outcome as JSON to the result file.

argv: event file, result file. Environment: ``_HANDLER`` (module.function), the ``AWS_LAMBDA_*``
variables, ``SAGESTACK_LAMBDA_REQUEST_ID`` and ``SAGESTACK_LAMBDA_DEADLINE_MS`` (epoch milliseconds).
"""

import importlib
import json
import os
import resource
import sys
import time
import traceback


class _Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class _ClientContext:
    def __init__(self, document):
        document = document or {}
        self.client = document.get("client")
        self.custom = document.get("custom")
        self.env = document.get("env")


class LambdaContext:
    def __init__(self, env, client_context):
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = env["SAGESTACK_LAMBDA_INVOKED_ARN"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = env["SAGESTACK_LAMBDA_REQUEST_ID"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = _Identity()
        self.client_context = _ClientContext(client_context) if client_context else None
        self._deadline_ms = int(env["SAGESTACK_LAMBDA_DEADLINE_MS"])

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type, message, stack=None):
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": os.environ["SAGESTACK_LAMBDA_REQUEST_ID"],
        "stackTrace": stack or [],
    }


def _run(event, client_context):
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:
        return False, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    handler = getattr(module, function_name, None)
    if handler is None:
        return False, _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    context = LambdaContext(os.environ, client_context)
    try:
        result = handler(event, context)
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # the handler's frames, not this runner's
        stack = traceback.format_list(frames)
        print(
            f"[ERROR] {type(exc).__name__}: {exc}\nTraceback (most recent call last):\n" + "".join(stack),
            file=sys.stderr,
            flush=True,
        )
        return False, _error(type(exc).__name__, str(exc), stack)
    try:
        return True, json.dumps(result)
    except (TypeError, ValueError) as exc:
        return False, _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")


def main():
    event_path, result_path = sys.argv[1], sys.argv[2]
    sys.path[0] = os.environ["LAMBDA_TASK_ROOT"]  # not this script's folder
    with open(event_path, "rb") as handle:
        document = json.load(handle)
    ok, outcome = _run(document["event"], document.get("client_context"))
    sys.stdout.flush()
    sys.stderr.flush()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(result_path, "w") as handle:
        json.dump(
            {"ok": ok, "payload": outcome if ok else json.dumps(outcome), "max_rss_kb": peak_kb}, handle
        )


if __name__ == "__main__":
    main()
