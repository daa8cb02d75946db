"""What a client needs to reach the server unchanged: environment exports plus two small files.

* ``AWS_ENDPOINT_URL`` redirects every boto3 client — except those the SageMaker SDK builds with an
  explicit ``https://sts.<region>.amazonaws.com`` endpoint. botocore loads the client plugins named
  in ``BOTOCORE_EXPERIMENTAL__PLUGINS`` for every client it creates; ours (written to
  ``<data-dir>/client/sagestack_botocore_plugin.py`` and put on ``PYTHONPATH``) sends requests meant
  for ``*.amazonaws.com`` to the server instead, before they are signed.
* ``SAGEMAKER_INTERNAL_IMAGE_URI`` gives the SDK's remote functions (``@remote``, ``RemoteExecutor``,
  ``@step``) a default image whatever the client's Python (the SDK's own default needs 3.8 or 3.10).
* SDK telemetry (a plain HTTPS GET to an AWS host after every ``fit``/``deploy``, in SDK v2 without a
  timeout) is switched off by the same plugin: it replaces the SDK's telemetry sender with a no-op.
  (The SDK's own opt-out is a config file; but with any config file present the SDK re-validates its
  whole config schema on every lookup — about 0.2 s of CPU each, 20+ lookups per ``deploy()``.)
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .domain.images import default_python_image
from .settings import Settings

PLUGIN_MODULE = "sagestack_botocore_plugin"

PLUGIN_SOURCE = '''"""botocore client plugin written by `sagestack env`: send AWS-hosted endpoints to sagestack
and keep the SageMaker SDK's telemetry from calling AWS."""
import os
import sys
from urllib.parse import urlsplit

_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")
# (module, sender): SDK v2's and sagemaker-core's telemetry, and ModelBuilder's (v2 and v3)
_TELEMETRY_SENDERS = (
    ("sagemaker.telemetry.telemetry_logging", "_send_telemetry_request"),
    ("sagemaker.core.telemetry.telemetry_logging", "_send_telemetry_request"),
    ("sagemaker.serve.utils.telemetry_logger", "_send_telemetry"),
)


def _no_telemetry(*args, **kwargs):
    return None


def _silence_sdk_telemetry():
    for name, sender in _TELEMETRY_SENDERS:
        module = sys.modules.get(name)
        if module is not None and getattr(module, sender, None) is not _no_telemetry:
            setattr(module, sender, _no_telemetry)


def initialize_client_plugin(client):
    target = os.environ.get("SAGESTACK_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if not target:
        return
    _silence_sdk_telemetry()
    host = (urlsplit(client.meta.endpoint_url).hostname or "").lower()
    if not host.endswith(_AWS_SUFFIXES):
        return
    destination = urlsplit(target)

    def redirect(request, **_):
        parts = urlsplit(request.url)
        if (parts.hostname or "").lower().endswith(_AWS_SUFFIXES):
            request.url = parts._replace(scheme=destination.scheme, netloc=destination.netloc).geturl()
            if "Host" in request.headers:
                del request.headers["Host"]

    client.meta.events.register_first("before-sign", redirect)
'''


def write_client_files(settings: Settings) -> Path:
    directory = settings.client_dir
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in ((f"{PLUGIN_MODULE}.py", PLUGIN_SOURCE),):
        path = directory / name
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
    return directory


def read_default_credentials(settings: Settings) -> tuple[str, str]:
    if settings.access_key_id and settings.secret_access_key:
        return settings.access_key_id, settings.secret_access_key
    path = settings.data_dir / "credentials"
    if not path.exists():
        from .platform import Platform

        Platform(settings).db.dispose()  # creates the data dir, the store and the key pair
    values = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
    return values["aws_access_key_id"], values["aws_secret_access_key"]


def client_environment(settings: Settings) -> dict[str, str]:
    directory = write_client_files(settings)
    key_id, secret = read_default_credentials(settings)
    return {
        "AWS_ENDPOINT_URL": settings.endpoint_url,
        "SAGESTACK_ENDPOINT_URL": settings.endpoint_url,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
        "BOTOCORE_EXPERIMENTAL__PLUGINS": f"sagestack={PLUGIN_MODULE}",
        # The SDK's remote functions (@remote, RemoteExecutor, @step) default to this image in any Python.
        "SAGEMAKER_INTERNAL_IMAGE_URI": default_python_image(settings.region),
        "PYTHONPATH": str(directory),
    }


def render_exports(env: dict[str, str]) -> str:
    lines = []
    for key, value in env.items():
        if key == "PYTHONPATH":
            lines.append(f'export PYTHONPATH={shlex.quote(value)}"${{PYTHONPATH:+:$PYTHONPATH}}"')
        else:
            lines.append(f"export {key}={shlex.quote(value)}")
    lines.append("unset AWS_SESSION_TOKEN AWS_PROFILE")
    return "\n".join(lines)
