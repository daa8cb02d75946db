"""The container engine's command line (podman or docker): which engine the settings name, whether an
image exists, the ``run`` command of a job or model container, kill and remove, and the local images the
ECR API answers from.

sagestack adds no hidden flags: the engine's own configuration (``containers.conf``, ``CONTAINERS_CONF``,
docker's daemon settings) applies to every call. Secrets and long values reach the container as ``-e NAME``
with the value in the engine client's environment, never on its command line.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field

ENGINES = ("podman", "docker")
QUERY_TIMEOUT_S = 60.0


class EngineError(Exception):
    """An engine command failed; the message is the engine's own."""


@dataclass(frozen=True)
class Engine:
    """One engine: ``name`` (podman|docker) and the executable."""

    name: str
    executable: str

    def _call(self, *args: str, timeout: float = QUERY_TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.executable, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def inspect_image(self, reference: str) -> dict | None:
        """The engine's ``image inspect`` of the image under exactly this name, or None."""
        result = self._call("image", "inspect", reference)
        if result.returncode != 0:
            return None
        try:
            found = json.loads(result.stdout)
        except ValueError:
            return None
        return found[0] if found else None

    def image_exists(self, reference: str) -> bool:
        return self.inspect_image(reference) is not None

    def images(self) -> list[dict]:
        """Local images as ``{"id", "names": [repo:tag…], "digest", "created", "size"}``."""
        fmt = "json" if self.name == "podman" else "{{json .}}"
        result = self._call("images", "--format", fmt, "--no-trunc")
        if result.returncode != 0:
            raise EngineError(result.stderr.strip() or f"{self.name} images failed")
        text = result.stdout.strip()
        if not text:
            return []
        if text.startswith("["):
            rows = json.loads(text)
        else:  # docker: one JSON object per line
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        images = []
        for row in rows:
            names = row.get("Names")
            if names is None and row.get("Repository"):
                names = [f"{row['Repository']}:{row.get('Tag') or 'latest'}"]
            images.append(
                {
                    "id": str(row.get("Id") or row.get("ID") or ""),
                    "names": list(names or []),
                    "digest": str(row.get("Digest") or ""),
                    "created": row.get("Created") or row.get("CreatedAt"),
                    "size": _size(row.get("Size")),
                }
            )
        return images

    def remove_image(self, reference: str) -> None:
        result = self._call("rmi", reference)
        if result.returncode != 0:
            raise EngineError(result.stderr.strip() or f"{self.name} rmi {reference} failed")

    def kill(self, container: str, signal: str = "KILL") -> None:
        """Signal a running container (no error when it is gone already)."""
        try:
            self._call("kill", "--signal", signal, container, timeout=30)
        except subprocess.TimeoutExpired:
            pass

    def remove(self, container: str) -> None:
        try:
            self._call("rm", "--force", container, timeout=60)
        except subprocess.TimeoutExpired:
            pass

    def remove_labelled(self, label: str, value: str) -> int:
        """Remove (killing) every container labelled ``label=value``; how many there were."""
        result = self._call("ps", "--all", "--quiet", "--filter", f"label={label}={value}")
        ids = result.stdout.split() if result.returncode == 0 else []
        for container in ids:
            self.remove(container)
        return len(ids)

    def ensure_internal_network(self, name: str) -> None:
        """A network without a route out (``network create --internal``): its containers reach each other
        and the host reaches them, nothing else."""
        if self._call("network", "inspect", name).returncode == 0:
            return
        result = self._call("network", "create", "--internal", name)
        if result.returncode != 0 and self._call("network", "inspect", name).returncode != 0:
            raise EngineError(result.stderr.strip() or f"{self.name} network create {name} failed")

    def create_internal_network(self, name: str, labels: dict[str, str], count: int) -> list[str]:
        """A new network of one job without a route out (``network create --internal``, labelled) and
        ``count`` addresses of its subnet for its containers (``--ip``), past the gateway's."""
        self.remove_network(name)  # one a run the server did not see end left
        command = ["network", "create", "--internal"]
        for key, value in labels.items():
            command += ["--label", f"{key}={value}"]
        result = self._call(*command, name)
        if result.returncode != 0:
            raise EngineError(result.stderr.strip() or f"{self.name} network create {name} failed")
        found = self._call("network", "inspect", name)
        try:
            subnets = _subnets(json.loads(found.stdout)[0])
        except (ValueError, IndexError, KeyError, TypeError):
            subnets = []
        if found.returncode != 0 or not subnets:
            self.remove_network(name)
            raise EngineError(f"{self.name} network {name} has no IPv4 subnet: {found.stderr.strip()}")
        subnet, gateway = subnets[0]
        free = (str(a) for a in subnet.hosts() if str(a) != gateway)
        addresses = list(itertools.islice(free, count))
        if len(addresses) < count:
            self.remove_network(name)
            raise EngineError(f"{self.name} network {name}: subnet {subnet} is too small for {count} hosts")
        return addresses

    def remove_network(self, name: str) -> None:
        """Remove a network and any container still on it (no error when it is gone already)."""
        try:
            self._call("network", "rm", "--force", name, timeout=60)
        except subprocess.TimeoutExpired:
            pass

    def remove_labelled_networks(self, label: str, value: str) -> int:
        """Remove every network labelled ``label=value``; how many there were."""
        result = self._call("network", "ls", "--quiet", "--filter", f"label={label}={value}")
        names = result.stdout.split() if result.returncode == 0 else []
        for name in names:
            self.remove_network(name)
        return len(names)

    def address(self, container: str) -> str | None:
        """The container's IP address on its (first) network, once it runs."""
        result = self._call(
            "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container
        )
        if result.returncode != 0:
            return None
        return next(iter(result.stdout.split()), None)


def _subnets(network: dict) -> list[tuple[ipaddress.IPv4Network, str]]:
    """A network's IPv4 subnets and their gateways from ``network inspect`` (podman's or docker's)."""
    rows = network.get("subnets") or (network.get("IPAM") or {}).get("Config") or []
    found = []
    for row in rows:
        text = row.get("subnet") or row.get("Subnet") or ""
        try:
            subnet = ipaddress.ip_network(text, strict=False)
        except ValueError:
            continue
        if subnet.version == 4:
            found.append((subnet, str(row.get("gateway") or row.get("Gateway") or next(subnet.hosts()))))
    return found


def _size(value) -> int:
    """podman: bytes; docker: ``"12.3MB"``."""
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value or "0").strip().upper()
    for unit, factor in (("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1)):
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * factor)
            except ValueError:
                return 0
    return int(text) if text.isdigit() else 0


@dataclass
class RunSpec:
    """One container: what ``<engine> run`` gets."""

    image: str
    name: str
    args: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    mounts: list[tuple[str, str, bool]] = field(default_factory=list)  # (host path, container path, ro)
    network: str | None = None  # host | none | a network's name | None (the engine's default)
    hostname: str | None = None
    ip: str | None = None  # --ip: the container's address on its network
    aliases: list[str] = field(default_factory=list)  # --network-alias: its names in the network's DNS
    hosts: dict[str, str] = field(default_factory=dict)  # --add-host name:address
    ports: list[tuple[str, int, int]] = field(default_factory=list)  # (host address, host port, inner port)
    workdir: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def run_command(engine: Engine, spec: RunSpec) -> tuple[list[str], dict[str, str]]:
    """The ``run`` command line and the environment the engine client runs with (the variables' values)."""
    # --pull never: the image is the local one the job names (checked before the run), never a download
    command = [engine.executable, "run", "--rm", "--pull", "never", "--name", spec.name]
    if spec.network:
        command += ["--network", spec.network]
    if spec.hostname:
        command += ["--hostname", spec.hostname]
    if spec.ip:
        command += ["--ip", spec.ip]
    for alias in spec.aliases:
        command += ["--network-alias", alias]
    for name, address in spec.hosts.items():
        command += ["--add-host", f"{name}:{address}"]
    for host_path, inner, read_only in spec.mounts:
        command += ["-v", f"{host_path}:{inner}" + (":ro" if read_only else "")]
    for address, port, inner in spec.ports:
        command += ["-p", f"{address}:{port}:{inner}"]
    for key, value in spec.labels.items():
        command += ["--label", f"{key}={value}"]
    if spec.workdir:
        command += ["--workdir", spec.workdir]
    client_env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    for key, value in spec.environment.items():
        command += ["-e", key]
        client_env[key] = str(value)
    args = list(spec.args)
    if spec.entrypoint:  # --entrypoint takes one word (docker); the rest go before the arguments
        command += ["--entrypoint", spec.entrypoint[0]]
        args = [*spec.entrypoint[1:], *args]
    command += [spec.image, *args]
    return command, client_env


def container_name(*parts: str) -> str:
    """A valid, unique-enough container name from job/endpoint parts."""
    text = "-".join(p for p in parts if p)
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in text)
    return ("sagestack-" + cleaned)[:200]


def resolve(setting: str) -> Engine | None:
    """The engine the setting names (``auto``: podman, else docker, whichever is on PATH; ``none``: no
    container runs). A named engine that is not installed is None as well (the jobs that need it fail with
    a reason saying so)."""
    choice = (setting or "auto").strip().lower()
    if choice == "none":
        return None
    for name in ENGINES if choice == "auto" else (choice,):
        executable = shutil.which(name)
        if executable:
            return Engine(name, executable)
    return None


def missing_image_reason(engine: Engine, uri: str) -> str:
    """What users read when the image is not in the engine under the exact URI."""
    return (
        f"Image {uri} was not found in the local container engine ({engine.name}); sagestack runs "
        f"non-built-in images from the engine's local images, looked up under the exact URI. Build or tag "
        f"it: `{engine.name} build -t {uri} <dir>` or `{engine.name} tag <local-image> {uri}`."
    )


@dataclass(frozen=True)
class EngineChoice:
    """The platform's engine (``engine`` None: containers cannot run here; ``setting``: why)."""

    engine: Engine | None
    setting: str


def engine_for(platform) -> Engine | None:
    """The engine the server's ``container_engine`` setting names, resolved once per platform."""
    setting = getattr(platform.settings, "container_engine", "auto")
    choice = platform.component("container-engine", lambda p: EngineChoice(resolve(setting), setting))
    return choice.engine
