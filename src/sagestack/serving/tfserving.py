"""TensorFlow Serving's REST semantics for SavedModels: the worker of a ``tensorflow-inference`` endpoint.

Run as a script by the TensorFlow environment's Python (``<venv>/bin/python tfserving.py --config FILE``),
not as part of the ``sagestack`` package: that environment has TensorFlow and numpy but none of
sagestack's dependencies, so this file uses only the standard library, numpy and tensorflow. It speaks the
same contract with the controller as ``worker.py`` (the config file, the listening socket it passes down,
``LOADED``/``READY``/``FAILED`` lines on the status pipe, exit on EOF of the lifeline pipe) and the
SageMaker container contract on the socket (``GET /ping``, ``POST /invocations``).

What the SageMaker TensorFlow Serving container does for a model without ``inference.py``:

* the model directory holds ``<model-name>/<version>/saved_model.pb`` (also accepted: a SavedModel at
  the root, under ``model/`` or under ``<version>/``); the highest version of each model is served, the
  default model is ``SAGEMAKER_TFS_DEFAULT_MODEL_NAME`` or the only/first one;
* ``application/json`` bodies are TF Serving REST requests: ``{"instances": [...]}`` (row format) →
  ``{"predictions": [...]}``, ``{"inputs": ...}`` (columnar) → ``{"outputs": ...}``, ``signature_name``
  (default ``serving_default``), ``{"b64": ...}`` for binary strings; other JSON (a plain list,
  JSON Lines) and ``text/csv`` rows become instances, as the container's nginx converts them;
* ``X-Amzn-SageMaker-Custom-Attributes``: ``tfs-model-name``, ``tfs-model-version``,
  ``tfs-method=predict|classify|regress`` (classify/regress take ``{"examples": [...], "context": {...}}``
  feature dicts, serialized as ``tf.train.Example`` for the signature's string input);
* errors are answered as TF Serving does: ``{"error": "..."}`` with HTTP 400 (bad input) or 500.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_SIGNATURE = "serving_default"
MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
tf = None  # imported in main() (seconds), after the status pipe is open
np = None


class TfsError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# -- models ----------------------------------------------------------------------------------------


def find_models(model_dir: Path) -> dict[str, dict[int, Path]]:
    """``{model name: {version: SavedModel dir}}`` for the layouts the TFS container accepts."""
    models: dict[str, dict[int, Path]] = {}
    for depth in range(0, 4):
        for marker in sorted(model_dir.glob("/".join(["*"] * depth + ["saved_model.pb*"]))):
            if marker.name not in MODEL_FILES or "code" in marker.relative_to(model_dir).parts[:1]:
                continue
            saved = marker.parent
            if saved.name.isdigit():
                version = int(saved.name)
                name = saved.parent.name if saved.parent != model_dir else "model"
            else:
                version = 1
                name = saved.name if saved != model_dir else "model"
            models.setdefault(name, {}).setdefault(version, saved)
    return models


class Models:
    """The SavedModels of one container; the newest version of each is loaded at start."""

    def __init__(self, model_dir: str, environment: dict):
        self.found = find_models(Path(model_dir))
        if not self.found:
            raise RuntimeError(
                f"No SavedModel (saved_model.pb) found in the model data ({model_dir}). A TensorFlow Serving "
                f"model.tar.gz holds <model-name>/<version>/saved_model.pb and variables/, e.g. "
                f"my_model/1/saved_model.pb."
            )
        default = environment.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME")
        self.default = default if default in self.found else sorted(self.found)[0]
        self.loaded: dict[tuple[str, int], object] = {}
        self.lock = threading.Lock()
        for name, versions in self.found.items():
            self.get(name, max(versions))

    def get(self, name: str | None, version: int | None):
        name = name or self.default
        versions = self.found.get(name)
        if versions is None:
            raise TfsError(f"Servable not found for request: Latest({name})", 404)
        version = max(versions) if version is None else version
        if version not in versions:
            raise TfsError(f"Servable not found for request: Specific({name}, {version})", 404)
        key = (name, version)
        with self.lock:
            if key not in self.loaded:
                print(
                    f"Loading SavedModel {name} version {version} from {versions[version]}",
                    file=sys.stderr,
                    flush=True,
                )
                self.loaded[key] = tf.saved_model.load(str(versions[version]))
            return self.loaded[key]


def signature(model, name: str | None):
    name = name or DEFAULT_SIGNATURE
    signatures = getattr(model, "signatures", {}) or {}
    if name not in signatures:
        raise TfsError(f'Serving signature name: "{name}" not found in signature def')
    return signatures[name]


# -- predict ---------------------------------------------------------------------------------------


def _unb64(value):
    if isinstance(value, dict):
        if set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        raise TfsError("JSON object: does not have named input: b64")
    if isinstance(value, list):
        return [_unb64(v) for v in value]
    return value


def _tensor(value, spec, name: str):
    try:
        if spec.dtype == tf.string:
            value = _unb64(value)
            return tf.constant(np.array(value, dtype=object), dtype=tf.string)
        return tf.convert_to_tensor(np.asarray(value), dtype=spec.dtype)
    except TfsError:
        raise
    except (ValueError, TypeError) as exc:
        raise TfsError(f"Failed to process element: {name} of 'inputs' field: {exc}") from None


def _jsonable(array, name: str = ""):
    value = array.numpy() if hasattr(array, "numpy") else array
    if isinstance(value, np.ndarray) and value.dtype == object or isinstance(value, bytes):

        def conv(v):
            if isinstance(v, list):
                return [conv(x) for x in v]
            if isinstance(v, bytes):
                if name.endswith("_bytes"):
                    return {"b64": base64.b64encode(v).decode()}
                return v.decode("utf-8", "replace")
            return v

        return conv(value.tolist() if hasattr(value, "tolist") else value)
    return value.tolist() if hasattr(value, "tolist") else value


def _inputs(fn) -> dict:
    return dict(fn.structured_input_signature[1])


def _shape(shape) -> str:
    return (
        "[" + ", ".join("-1" if d is None else str(d) for d in shape.as_list()) + "]"
        if shape.rank is not None
        else "(any)"
    )


def _call(fn, columns: dict) -> dict:
    specs = _inputs(fn)
    extra = [n for n in columns if n not in specs]
    if extra:
        raise TfsError(
            f"input tensor alias not found in signature: {extra[0]}. Inputs expected to be in the "
            f"set {{{','.join(sorted(specs))}}}."
        )
    missing = [n for n in specs if n not in columns]
    if missing:
        raise TfsError(f"Missing input: {missing[0]}; the signature takes {', '.join(sorted(specs))}")
    tensors = {n: _tensor(columns[n], specs[n], n) for n in specs}
    for name, tensor in tensors.items():
        if not specs[name].shape.is_compatible_with(tensor.shape):
            raise TfsError(
                f"Input {name}: shape {list(tensor.shape)} does not match the signature's shape "
                f"{_shape(specs[name].shape)}"
            )
    try:
        out = fn(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
        raise TfsError(_first_line(exc)) from None
    if not isinstance(out, dict):
        out = {"output_0": out}
    return out


def _first_line(exc: BaseException) -> str:
    """The error's own message: TensorFlow's graph errors open with "Graph execution error:" and a node
    trace; TF Serving answers with the kernel's message (``Matrix size-incompatible: ...``)."""
    text = (getattr(exc, "message", None) or str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    noise = ("Graph execution error", "Detected at node", "<stack traces", "[[", "File ", "Node:")
    kept = [line for line in lines if not line.startswith(noise)]
    if kept:
        return kept[-1] if text.startswith("Graph execution error") else kept[0]
    return lines[0] if lines else type(exc).__name__


def predict(model, request: dict) -> dict:
    fn = signature(model, request.get("signature_name"))
    specs = _inputs(fn)
    if "instances" in request and "inputs" in request:
        raise TfsError("JSON Value: Only one of 'instances' or 'inputs' may be specified")
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list):
            raise TfsError("Expecting 'instances' to be an list/array")
        if instances and all(isinstance(i, dict) and set(i) != {"b64"} for i in instances):
            names = set().union(*instances)
            columns = {n: [i.get(n) for i in instances] for n in names}
        else:
            if len(specs) != 1:
                raise TfsError(
                    f"The signature takes {len(specs)} inputs ({', '.join(sorted(specs))}); "
                    f"each instance must be an object naming them"
                )
            columns = {next(iter(specs)): instances}
        out = _call(fn, columns)
        if len(out) == 1:
            ((name, value),) = out.items()
            return {"predictions": _jsonable(value, name)}
        values = {k: _jsonable(v, k) for k, v in out.items()}
        rows = len(next(iter(values.values())))
        return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(rows)]}
    if "inputs" in request:
        inputs = request["inputs"]
        if (
            isinstance(inputs, dict)
            and set(inputs) != {"b64"}
            and (len(specs) > 1 or set(inputs) <= set(specs))
        ):
            columns = inputs
        else:
            if len(specs) != 1:
                raise TfsError(
                    f"The signature takes {len(specs)} inputs ({', '.join(sorted(specs))}); "
                    f"'inputs' must be an object naming them"
                )
            columns = {next(iter(specs)): inputs}
        out = _call(fn, columns)
        if len(out) == 1:
            ((name, value),) = out.items()
            return {"outputs": _jsonable(value, name)}
        return {"outputs": {k: _jsonable(v, k) for k, v in out.items()}}
    raise TfsError("Missing 'inputs' or 'instances' key")


# -- classify / regress ----------------------------------------------------------------------------


def _feature(value, name: str):
    values = value if isinstance(value, list) else [value]
    values = [base64.b64decode(v["b64"]) if isinstance(v, dict) and "b64" in v else v for v in values]
    train = tf.train
    if all(isinstance(v, bool) or isinstance(v, int) for v in values):
        return train.Feature(int64_list=train.Int64List(value=[int(v) for v in values]))
    if all(isinstance(v, (int, float)) for v in values):
        return train.Feature(float_list=train.FloatList(value=[float(v) for v in values]))
    if all(isinstance(v, (str, bytes)) for v in values):
        return train.Feature(
            bytes_list=train.BytesList(value=[v.encode() if isinstance(v, str) else v for v in values])
        )
    raise TfsError(f'Feature {name}: values must be numbers, strings or {{"b64": ...}} objects')


def _examples(request: dict) -> list[bytes]:
    examples = request.get("examples")
    if not isinstance(examples, list):
        raise TfsError("'examples' field must be a list/array")
    context = request.get("context") or {}
    out = []
    for example in examples:
        if not isinstance(example, dict):
            raise TfsError("Each example must be an object of feature names to values")
        features = {**context, **example}
        out.append(
            tf.train.Example(
                features=tf.train.Features(feature={k: _feature(v, k) for k, v in features.items()})
            ).SerializeToString()
        )
    return out


def classify_or_regress(model, request: dict, method: str) -> dict:
    fn = signature(model, request.get("signature_name"))
    specs = _inputs(fn)
    if len(specs) != 1 or next(iter(specs.values())).dtype != tf.string:
        raise TfsError(
            f"Expected {method} signature to take one string input (serialized tf.Example); "
            f"it takes {', '.join(sorted(specs))}"
        )
    examples = _examples(request)
    out = _call(fn, {next(iter(specs)): examples})
    if method == "regress":
        if "outputs" not in out:
            raise TfsError("Expected output tensor 'outputs' in the regress signature")
        values = np.asarray(out["outputs"]).reshape(len(examples), -1)[:, 0]
        return {"results": values.tolist()}
    scores = np.asarray(out["scores"]) if "scores" in out else None
    classes = _jsonable(out["classes"]) if "classes" in out else None
    if scores is None and classes is None:
        raise TfsError("Expected output tensors 'classes' and/or 'scores' in the classify signature")
    results = []
    for i in range(len(examples)):
        row_scores = scores[i].reshape(-1).tolist() if scores is not None else None
        row_classes = classes[i] if classes is not None else [str(j) for j in range(len(row_scores))]
        if row_scores is None:
            row_scores = [0.0] * len(row_classes)
        results.append([[c, s] for c, s in zip(row_classes, row_scores)])
    return {"results": results}


# -- requests --------------------------------------------------------------------------------------


def custom_attributes(header: str | None) -> dict[str, str]:
    out = {}
    for part in (header or "").replace(";", ",").split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _number(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def _csv_request(text: str) -> dict:
    """One instance per row, as the SageMaker TFS container converts CSV: a row of one column is a scalar,
    several columns a list; numbers stay numbers unless the first field is not numeric (then strings)."""
    rows = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = rows[0].split(",", 1)[0].strip() if rows else ""
    strings = not first.startswith('"') and not _number(first)
    instances = []
    for row in rows:
        cells = [c.strip() for c in row.split(",")]
        if strings:
            values = [c.strip('"') for c in cells]
        else:
            try:
                values = [json.loads(c) for c in cells]
            except ValueError as exc:
                raise TfsError(f"CSV row {row[:80]!r} is not numeric: {exc}") from None
        instances.append(values if len(values) > 1 else values[0])
    return {"instances": instances}


_TFS_KEYS = re.compile(r'"(instances|inputs|examples)"\s*:')
_JSON_LINES = re.compile(r"[}\]]\s*[\[{]")


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TfsError(f"JSON Parse error: {exc}") from None


def parse_request(body: bytes, content_type: str | None) -> dict:
    """The TF Serving REST request for a SageMaker invocation body (what the TFS container's nginx does):
    a TF Serving request as is; JSON Lines (objects or arrays one after another) and any other JSON value
    become ``instances`` (a value that is not a list of lists is one instance); CSV rows become instances."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media not in ("application/json", "application/jsonlines", "application/jsons", "text/csv"):
        raise TfsError(f"Unsupported Media Type: {content_type or 'Unknown'}", 415)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise TfsError("Request body is not UTF-8 text") from None
    if media == "text/csv":
        return _csv_request(text)
    if _JSON_LINES.search(text) and not _TFS_KEYS.search(text):
        return {"instances": [_json(line) for line in text.splitlines() if line.strip()]}
    value = _json(text)
    if isinstance(value, dict) and _TFS_KEYS.search(text):
        return value
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return {"instances": value}
    return {"instances": [value]}


def invoke(models: Models, body: bytes, content_type: str | None, attributes: str | None) -> dict:
    attrs = custom_attributes(attributes)
    request = parse_request(body, content_type)
    version = attrs.get("tfs-model-version")
    if version is not None and not version.isdigit():
        raise TfsError(f"tfs-model-version must be a number, not {version!r}")
    model = models.get(attrs.get("tfs-model-name"), int(version) if version else None)
    method = attrs.get("tfs-method", "predict")
    if method == "predict":
        return predict(model, request)
    if method in ("classify", "regress"):
        return classify_or_regress(model, request, method)
    raise TfsError(f"tfs-method must be predict, classify or regress, not {method!r}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    models: Models = None  # set in main()

    def log_message(self, format, *args):  # noqa: A002 - access lines are not logged (as TFS)
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            self._send(200, b"", "text/plain")
        elif path == "/execution-parameters":
            self._send(
                200,
                json.dumps(
                    {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}
                ).encode(),
            )
        else:
            self._send(404, b"")

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.split("?", 1)[0] != "/invocations":
            self._send(404, b"")
            return
        try:
            result = invoke(
                self.models,
                body,
                self.headers.get("Content-Type"),
                self.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
            )
            self._send(200, json.dumps(result).encode())
        except TfsError as exc:
            print(f"Invocation failed ({exc.status}): {exc}", file=sys.stderr, flush=True)
            self._send(exc.status, json.dumps({"error": str(exc)}).encode())
        except Exception as exc:  # noqa: BLE001 - the model's own failure: 500 with its message
            traceback.print_exc()
            self._send(500, json.dumps({"error": _first_line(exc)}).encode())


# -- process ---------------------------------------------------------------------------------------


def _watch_lifeline(fd: int) -> None:
    """EOF on the lifeline: the controller is gone, so exit. (No PR_SET_PDEATHSIG here: it fires when the
    *thread* that started this process ends, and a restarted worker is started by a monitor thread that
    ends right after.)"""

    def run() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=run, name="lifeline", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    global tf, np
    parser = argparse.ArgumentParser(prog="tfserving.py")
    parser.add_argument("--config", required=True)
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--variant", default="")
    parser.add_argument("--instance", default="")
    args = parser.parse_args(argv)
    with open(args.config) as handle:
        config = json.load(handle)
    status = (
        os.fdopen(config["status_fd"], "w", buffering=1)
        if config.get("status_fd") is not None
        else sys.stdout
    )
    if config.get("lifeline_fd") is not None:
        _watch_lifeline(config["lifeline_fd"])
    sock = socket.socket(fileno=config["listen_fd"])
    started = time.monotonic()
    try:
        containers = config["containers"]
        if len(containers) != 1:
            raise RuntimeError("A TensorFlow Serving container must be the only container of its model")
        container = containers[0]
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        import numpy
        import tensorflow

        tf, np = tensorflow, numpy
        print(
            f"TensorFlow {tf.__version__} (TensorFlow Serving REST API emulation)",
            file=sys.stderr,
            flush=True,
        )
        Handler.models = Models(container["model_dir"], container.get("environment") or {})
    except BaseException as exc:  # noqa: BLE001 - any load failure fails the instance with its message
        traceback.print_exc()
        status.write("FAILED " + json.dumps(f"{type(exc).__name__}: {exc}") + "\n")
        status.flush()
        return 1
    status.write(f"LOADED {int((time.monotonic() - started) * 1e6)}\n")
    names = ", ".join(f"{n} (version {max(v)})" for n, v in sorted(Handler.models.found.items()))
    print(
        f"Serving {names} in {time.monotonic() - started:.2f}s on {sock.getsockname()[0]}:"
        f"{sock.getsockname()[1]}",
        file=sys.stderr,
        flush=True,
    )
    server = ThreadingHTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    status.write(f"READY {os.getpid()}\n")
    status.flush()
    server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
