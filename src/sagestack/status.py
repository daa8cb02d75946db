"""``sagestack status`` and ``sagestack reset``, and the status document the server answers.

The server side, :func:`server_status`, reads the store and the serving controller (the gateway answers
``GET /_sagestack/status`` with it, SigV4-signed like every API call, since it names resources and
processes). The command side finds the server through ``<data-dir>/server.pid`` (pidfile.py), asks it,
and prints; without a server it reports the data dir alone. ``reset`` deletes a data dir's contents
after confirmation and never while a server holds it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import pidfile

if TYPE_CHECKING:
    from .platform import Platform
    from .settings import Settings

STATUS_PATH = "/_sagestack/status"
RUNNING_JOB_STATES = ("InProgress", "Stopping")
#: What a data dir holds once a server has used it; ``reset`` refuses a directory with none of these.
DATA_DIR_MARKERS = ("metadata.db", "credentials", "objects", "jobs", pidfile.FILENAME)
NOT_RUNNING = 3  # exit status of `sagestack status` when no server runs (as `systemctl status`)


# -- disk -----------------------------------------------------------------------------------------


def _tree_bytes(path: str) -> int:
    """Bytes on disk under ``path`` (allocated blocks where the platform reports them; links not followed)."""
    total = 0
    stack = [path]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += getattr(info, "st_blocks", 0) * 512 or info.st_size
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return total


def disk_usage(data_dir: Path) -> dict:
    """``{"bytes": total, "entries": {top-level name: bytes}}`` for the data dir."""
    entries: dict[str, int] = {}
    try:
        children = list(os.scandir(data_dir))
    except OSError:
        return {"bytes": 0, "entries": {}}
    for entry in children:
        try:
            if entry.is_dir(follow_symlinks=False):
                entries[entry.name] = _tree_bytes(entry.path)
            else:
                info = entry.stat(follow_symlinks=False)
                entries[entry.name] = getattr(info, "st_blocks", 0) * 512 or info.st_size
        except OSError:
            continue
    return {"bytes": sum(entries.values()), "entries": dict(sorted(entries.items()))}


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


# -- the server's side ----------------------------------------------------------------------------


def _database(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - never fail a status report over its wording
        return url.split("://", 1)[0]


def server_status(platform: Platform, started_at: float | None = None) -> dict:
    """What runs on this server: jobs in progress, endpoints with their instances, the store, the disk."""
    settings = platform.settings
    counts: dict[str, dict[str, int]] = {}
    for resource_type, status, count in platform.resources.count_by_status():
        counts.setdefault(resource_type, {})[status or "-"] = count
    jobs = []
    for resource_type in sorted(t for t in counts if t.endswith("-job")):
        for item in platform.resources.in_states(resource_type, RUNNING_JOB_STATES):
            jobs.append(
                {
                    "type": resource_type,
                    "name": item.name,
                    "status": item.status,
                    "secondary_status": item.data.get("SecondaryStatus"),
                    "account": item.account_id,
                    "region": item.region,
                    "created_at": item.created_at,
                }
            )
    controller = platform.get_component("serving")  # None until an endpoint or transform needed it
    endpoints = []
    for item in platform.resources.in_states("endpoint", list(counts.get("endpoint", {}))):
        variants = {}
        if controller is not None:
            for variant, instances in controller.describe((item.account_id, item.region, item.name)).items():
                variants[variant] = [
                    {
                        "id": i.get("id"),
                        "state": i.get("state"),
                        "pid": i.get("pid"),
                        "address": i.get("address"),
                        "restarts": i.get("restarts"),
                        "inflight": i.get("inflight"),
                    }
                    for i in instances
                ]
        endpoints.append(
            {
                "name": item.name,
                "status": item.status,
                "account": item.account_id,
                "region": item.region,
                "variants": variants,
            }
        )
    from . import __version__

    return {
        "status": "running",
        "version": __version__,
        "pid": os.getpid(),
        "url": settings.endpoint_url,
        "host": settings.host,
        "port": settings.port,
        "started_at": started_at,
        "uptime_seconds": None if started_at is None else round(time.time() - started_at, 1),
        "data_dir": str(settings.data_dir),
        "database": _database(settings.db_url),
        "resources": counts,
        "jobs_running": jobs,
        "endpoints": endpoints,
        "disk": disk_usage(settings.data_dir),
    }


# -- the command's side ---------------------------------------------------------------------------


class StatusError(Exception):
    pass


def _credentials(settings: Settings) -> tuple[str, str]:
    if settings.access_key_id and settings.secret_access_key:
        return settings.access_key_id, settings.secret_access_key
    path = settings.data_dir / "credentials"
    try:
        values = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
        return values["aws_access_key_id"], values["aws_secret_access_key"]
    except (OSError, KeyError):
        raise StatusError(
            f"no credentials in {path}: pass the server's key pair as SAGESTACK_ACCESS_KEY_ID "
            f"and SAGESTACK_SECRET_ACCESS_KEY"
        ) from None


def fetch_status(settings: Settings, url: str, timeout: float = 10.0) -> dict:
    """Ask the server at ``url`` for its status, signing with the data dir's key pair."""
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret = _credentials(settings)
    request = AWSRequest("GET", url.rstrip("/") + STATUS_PATH)
    SigV4Auth(Credentials(key, secret), "sagestack", settings.region).add_auth(request)
    prepared = urllib.request.Request(request.url, headers=dict(request.headers.items()), method="GET")
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise StatusError(f"{url} answered HTTP {exc.code}: {detail}") from None
    except (OSError, ValueError) as exc:
        raise StatusError(f"{url} did not answer: {exc}") from None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts += [f"{minutes}m"] if minutes or hours or days else []
    return " ".join(parts + [f"{secs}s"])


def _disk_line(disk: dict) -> str:
    biggest = sorted(disk["entries"].items(), key=lambda kv: -kv[1])[:4]
    detail = ", ".join(f"{name} {human_bytes(size)}" for name, size in biggest if size)
    return human_bytes(disk["bytes"]) + (f" ({detail})" if detail else "")


def render(status: dict) -> str:
    """``sagestack status``'s text."""
    lines = []
    if status["status"] == "running":
        lines.append(
            f"sagestack {status['version']} is running: pid {status['pid']}, {status['url']}, "
            f"up {_duration(status.get('uptime_seconds'))}"
        )
    else:
        line = f"no sagestack server is running on {status['data_dir']}"
        stale = status.get("stale_pid")
        if stale:
            line += f" (the last one, pid {stale}, did not exit cleanly)"
        lines.append(line)
    lines.append(f"data dir   {status['data_dir']}: {_disk_line(status['disk'])}")
    if status["status"] != "running":
        return "\n".join(lines) + "\n"
    lines.append(f"store      {status['database']}")
    jobs = status["jobs_running"]
    lines.append(f"jobs       {len(jobs)} running")
    for job in jobs:
        secondary = f", {job['secondary_status']}" if job.get("secondary_status") else ""
        lines.append(f"  {job['type']} {job['name']} ({job['status']}{secondary})")
    endpoints = status["endpoints"]
    lines.append(f"endpoints  {len(endpoints)}")
    for endpoint in endpoints:
        lines.append(f"  {endpoint['name']} {endpoint['status']}")
        for variant, instances in endpoint["variants"].items():
            described = ", ".join(f"{i['state']} pid {i['pid']}" for i in instances) or "none"
            lines.append(
                f"    {variant}: {len(instances)} instance{'s' if len(instances) != 1 else ''} ({described})"
            )
    counts = {t: sum(by_status.values()) for t, by_status in status["resources"].items()}
    if counts:
        lines.append("resources  " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    return "\n".join(lines) + "\n"


def status_command(settings: Settings, as_json: bool = False, out=sys.stdout) -> int:
    data_dir = settings.data_dir
    owner = pidfile.running_server(data_dir)
    if owner is None:
        stale = pidfile.stale_owner(data_dir)
        status = {
            "status": "not running",
            "data_dir": str(data_dir),
            "stale_pid": stale.get("pid") if stale else None,
            "disk": disk_usage(data_dir),
        }
        out.write(json.dumps(status, indent=2) + "\n" if as_json else render(status))
        return NOT_RUNNING
    url = owner.get("url") or settings.endpoint_url
    try:
        status = fetch_status(settings, url)
    except StatusError as exc:
        print(
            f"a sagestack server (pid {owner.get('pid', '?')}) holds {data_dir} but its status could not "
            f"be read: {exc}",
            file=sys.stderr,
        )
        return 1
    out.write(json.dumps(status, indent=2) + "\n" if as_json else render(status))
    return 0


def reset_command(
    settings: Settings, assume_yes: bool = False, ask: Callable[[str], str] | None = None, out=sys.stdout
) -> int:
    """Delete everything in the data dir (after a y/N question unless ``assume_yes``); refuse while a
    server runs on it or when it does not look like a sagestack data dir."""
    data_dir = settings.data_dir
    if not data_dir.is_dir() or not any(data_dir.iterdir()):
        out.write(f"nothing to reset: {data_dir} is empty or does not exist\n")
        return 0
    owner = pidfile.running_server(data_dir)
    if owner is not None:
        print(
            f"refusing to reset {data_dir}: the sagestack server with pid {owner.get('pid', '?')} "
            f"({owner.get('url', 'address unknown')}) is running on it. Stop it first.",
            file=sys.stderr,
        )
        return 2
    if not any((data_dir / name).exists() for name in DATA_DIR_MARKERS):
        print(
            f"refusing to reset {data_dir}: it does not look like a sagestack data dir (none of "
            f"{', '.join(DATA_DIR_MARKERS)})",
            file=sys.stderr,
        )
        return 2
    usage = disk_usage(data_dir)
    if not assume_yes:
        ask = ask or _ask
        answer = ask(
            f"Delete everything in {data_dir} ({human_bytes(usage['bytes'])}: metadata, S3 objects, "
            f"jobs, endpoint models, logs, the default key pair)? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            out.write("not reset\n")
            return 1
    try:
        lock = pidfile.DataDirLock.acquire(data_dir, retry_s=0.0)
    except pidfile.DataDirInUse as exc:
        print(f"refusing to reset: {exc}", file=sys.stderr)
        return 2
    try:
        for entry in os.scandir(data_dir):
            if entry.name == pidfile.FILENAME:
                continue  # removed last, by release: until then a server starting on it finds it held
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
    finally:
        lock.release(remove=True)
    out.write(f"reset {data_dir}: {human_bytes(usage['bytes'])} deleted\n")
    if settings.database_url:
        out.write(f"note: the metadata store at {_database(settings.database_url)} was not touched\n")
    return 0


def _ask(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""
