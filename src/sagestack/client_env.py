"""What a client needs to reach the server unchanged: environment exports plus two small files.

* ``AWS_ENDPOINT_URL`` redirects every boto3 client — except those the SageMaker SDK builds with an
  explicit ``https://sts.<region>.amazonaws.com`` endpoint. botocore loads the client plugins named
  in ``BOTOCORE_EXPERIMENTAL__PLUGINS`` for every client it creates; ours (written to
  ``<data-dir>/client/sagestack_botocore_plugin.py`` and put on ``PYTHONPATH``) sends requests meant
  for ``*.amazonaws.com`` to the server instead, before they are signed.
* SDK telemetry (a plain HTTPS GET to an AWS host on every ``fit``/``deploy``) is turned off through the
  SDK's own config file, named by ``SAGEMAKER_USER_CONFIG_OVERRIDE``.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .settings import Settings

PLUGIN_MODULE = "sagestack_botocore_plugin"

PLUGIN_SOURCE = '''"""botocore client plugin written by `sagestack env`: send AWS-hosted endpoints to sagestack."""
import os
from urllib.parse import urlsplit

_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


def initialize_client_plugin(client):
    target = os.environ.get("SAGESTACK_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if not target:
        return
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

SAGEMAKER_CONFIG = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def write_client_files(settings: Settings) -> Path:
    directory = settings.client_dir
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in ((f"{PLUGIN_MODULE}.py", PLUGIN_SOURCE), ("sagemaker-config.yaml", SAGEMAKER_CONFIG)):
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
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(directory / "sagemaker-config.yaml"),
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
