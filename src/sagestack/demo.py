"""``make demo``: find or start a server, run ``examples/xgboost_end_to_end.py`` on it, stop what it started.

The example is plain SageMaker Python SDK code; this driver only gives it the environment ``sagestack env``
prints. It uses a sagestack server already answering on the port (``/_sagestack/health``) when that
server accepts this data dir's keys, and otherwise starts one — on the port, or on a free port when the
port is held by something else, which it says. Afterwards it deletes any endpoint the example left
behind (an example that failed half-way) and stops the server it started.

``python -m sagestack.demo --write-notebook`` rewrites ``examples/xgboost_end_to_end.ipynb`` from the
script's ``# %%`` cells.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "xgboost_end_to_end.py"
NOTEBOOK = EXAMPLE.with_suffix(".ipynb")
#: The example names its endpoint with this prefix; leftovers with it are deleted after a run.
ENDPOINT_PREFIX = "sagestack-demo-"
NOTEBOOK_COMMAND = "python -m sagestack.demo --write-notebook"


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


# -- what answers on the port ------------------------------------------------------------------------


@dataclass(frozen=True)
class PortState:
    kind: str  # "sagestack", "other" or "free"
    detail: str = ""


def probe(settings: Settings, timeout: float = 3.0) -> PortState:
    """Who holds ``settings``' port: sagestack (its health document answers), something else, or nobody."""
    from .server import port_in_use

    url = settings.endpoint_url + "/_sagestack/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(65536)
        document = json.loads(body)
        if isinstance(document, dict) and document.get("status") == "running":
            return PortState("sagestack", f"sagestack {document.get('version', '?')}")
        return PortState("other", f"it answered {url} with {body[:80]!r}")
    except urllib.error.HTTPError as err:
        return PortState("other", f"it answered {url} with HTTP {err.code}")
    except (ValueError, UnicodeDecodeError):
        return PortState("other", f"it answered {url} with something that is not sagestack's health document")
    except OSError as err:
        if port_in_use(settings.host, settings.port):
            return PortState("other", f"it does not answer HTTP like sagestack ({err.__class__.__name__})")
        return PortState("free")


def accepts_our_keys(settings: Settings) -> tuple[bool, str]:
    """Whether the server on the port knows the key pair in ``settings.data_dir`` (GetCallerIdentity)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from .client_env import read_default_credentials

    key_id, secret = read_default_credentials(settings)
    sts = boto3.client(
        "sts",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10),
    )
    try:
        return True, sts.get_caller_identity()["Arn"]
    except ClientError as err:
        return False, f"{err.response['Error'].get('Code')}: {err.response['Error'].get('Message')}"
    except BotoCoreError as err:
        return False, str(err)


# -- the run ---------------------------------------------------------------------------------------


def client_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus what ``sagestack env`` prints for ``settings``."""
    from .client_env import client_environment

    env = dict(os.environ)
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ):
        env.pop(key, None)
    for key, value in client_environment(settings).items():
        if key == "PYTHONPATH" and env.get("PYTHONPATH"):
            value = f"{value}{os.pathsep}{env['PYTHONPATH']}"
        env[key] = value
    env.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # the example is SDK v2 on purpose
    env["PYTHONUNBUFFERED"] = "1"
    return env


def delete_leftover_endpoints(settings: Settings, since: float) -> list[str]:
    """Delete endpoints named ``sagestack-demo-*`` created since ``since`` (by an example that failed)."""
    import datetime as dt

    import boto3

    from .client_env import read_default_credentials

    key_id, secret = read_default_credentials(settings)
    sm = boto3.client(
        "sagemaker",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    after = dt.datetime.fromtimestamp(since - 1, dt.timezone.utc)
    deleted = []
    pages = sm.get_paginator("list_endpoints").paginate(NameContains=ENDPOINT_PREFIX, CreationTimeAfter=after)
    for page in pages:
        for summary in page["Endpoints"]:
            name = summary["EndpointName"]
            if not name.startswith(ENDPOINT_PREFIX):
                continue
            config = sm.describe_endpoint(EndpointName=name).get("EndpointConfigName")
            sm.delete_endpoint(EndpointName=name)
            if config:
                try:
                    sm.delete_endpoint_config(EndpointConfigName=config)
                except sm.exceptions.ClientError:
                    pass
            deleted.append(name)
    return deleted


def new_server(settings: Settings):
    """A server process for ``settings`` (not started yet), logging to ``<data-dir>/demo-server.log``."""
    from .local_server import ServerProcess

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(settings.data_dir, port=settings.port)
    server.log_path = settings.data_dir / "demo-server.log"
    return server


def run(settings: Settings, example: Path = EXAMPLE) -> int:
    """Find or start the server, run the example with the client environment, clean up.

    Returns the example's exit status.
    """
    from .local_server import free_port

    if not example.exists():
        say(f"{example} is missing: run the demo from a sagestack source checkout")
        return 2
    started_at = time.time()
    reuse = False
    state = probe(settings)
    if state.kind == "sagestack":
        reuse, detail = accepts_our_keys(settings)
        if reuse:
            say(
                f"using the sagestack server already running at {settings.endpoint_url} ({detail}); "
                f"it stays running afterwards"
            )
        else:
            port = free_port()
            say(
                f"a sagestack server is running at {settings.endpoint_url}, but it does not accept the keys "
                f"in {settings.data_dir} (another data dir? {detail}); starting another on free port {port}"
            )
            settings = settings.with_overrides(port=port)
    elif state.kind == "other":
        port = free_port()
        say(
            f"port {settings.port} on {settings.host} is in use by something that is not sagestack "
            f"({state.detail}); starting sagestack on free port {port} instead"
        )
        settings = settings.with_overrides(port=port)
    server = None if reuse else new_server(settings)
    rc = 1
    try:
        if server is not None:
            say(f"starting sagestack on {settings.endpoint_url} (data dir {settings.data_dir}) ...")
            clock = time.time()
            server.start(timeout=120)
            say(f"server up in {time.time() - clock:.1f} s (log: {server.log_path})")
        say(
            f"running {example.name} with `sagestack env`'s environment "
            f"(AWS_ENDPOINT_URL={settings.endpoint_url})"
        )
        print(flush=True)
        rc = subprocess.call(
            [sys.executable, str(example)], env=client_env(settings), cwd=str(example.parent)
        )
        print(flush=True)
    except KeyboardInterrupt:
        say("interrupted")
        rc = 130
    except RuntimeError as err:  # ServerProcess.start: the server exited or never answered
        say(f"the server did not start: {err}")
        rc = 1
    finally:
        if probe(settings).kind == "sagestack":
            try:
                leftovers = delete_leftover_endpoints(settings, started_at)
                if leftovers:
                    say(f"deleted endpoints the example left behind: {', '.join(leftovers)}")
            except Exception as err:  # noqa: BLE001 - cleanup must not hide the example's own result
                say(f"could not check for leftover endpoints: {err}")
        if server is not None and server.proc is not None:
            server.stop()
            say(f"stopped the server it started on port {settings.port}")
    verdict = "finished" if rc == 0 else f"FAILED (exit status {rc})"
    say(f"{verdict} in {time.time() - started_at:.1f} s")
    return rc


# -- the notebook ---------------------------------------------------------------------------------


def script_cells(text: str) -> list[tuple[str, str]]:
    """``(cell_type, source)`` of each ``# %%`` cell of a percent-format script (``# %% [markdown]`` cells:
    the comment text)."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
    result = []
    for kind, lines in cells:
        if kind == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            result.append((kind, "\n".join(lines)))
    return result


def notebook(text: str) -> dict[str, Any]:
    """An nbformat 4.5 notebook (no outputs) with the script's cells."""
    cells = []
    for number, (kind, source) in enumerate(script_cells(text)):
        lines = source.splitlines(keepends=True)
        cell: dict[str, Any] = {
            "cell_type": kind,
            "id": f"cell-{number:02d}",
            "metadata": {},
            "source": lines,
        }
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(script: Path = EXAMPLE) -> str:
    return json.dumps(notebook(script.read_text()), indent=1, ensure_ascii=False) + "\n"


# -- command line ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sagestack.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, help="the port to use or find a server on (default 5066 or $SAGESTACK_PORT)"
    )
    parser.add_argument("--host", help="the address (default 127.0.0.1)")
    parser.add_argument(
        "--data-dir", help="the data dir (default $SAGESTACK_DATA_DIR or ~/.local/share/sagestack)"
    )
    parser.add_argument("--example", type=Path, default=EXAMPLE, help="the script to run")
    parser.add_argument(
        "--write-notebook", action="store_true", help=f"rewrite {NOTEBOOK.name} from {EXAMPLE.name} and exit"
    )
    args = parser.parse_args(argv)
    if args.write_notebook:
        NOTEBOOK.write_text(notebook_text(args.example))
        print(f"wrote {NOTEBOOK}")
        return 0
    settings = Settings.from_env(host=args.host, port=args.port, data_dir=args.data_dir)
    return run(settings, args.example.resolve())


if __name__ == "__main__":
    sys.exit(main())
