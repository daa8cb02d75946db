"""The test images: a minimal Debian rootfs with python3 (mmdebstrap, imported into podman, the tarball
cached under ~/.cache/sagestack-test-images keyed by its recipe), and the BYOC image built FROM it
(tests/containers/byoc: ``train`` and ``serve``, standard library only), tagged as an ECR URI, and the
multi-model image (``mme-serve`` as its ``serve``). No registry is involved."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
BYOC_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-test:latest"
#: The multi-model test image: byoc/mme-serve as its ``serve``.
MME_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/byoc-mme-test:latest"
BASE_RECIPE = ["--variant=minbase", "--include=python3-minimal,libpython3.11-stdlib", "bookworm"]
CONTAINERS_CONF = (
    '[engine]\nruntime = "runc"\n\n[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "sagestack-test-images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def engine_env() -> dict[str, str]:
    """The environment podman runs with here: the user's CONTAINERS_CONF, else ours (runc, rlimits the
    machine allows: Debian's podman runs root containers only so on these machines)."""
    if os.environ.get("CONTAINERS_CONF"):
        return {"CONTAINERS_CONF": os.environ["CONTAINERS_CONF"]}
    conf = cache_dir() / "containers.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    return {"CONTAINERS_CONF": str(conf)}


def _podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **engine_env()}
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result


def job_networks(name: str) -> list[str]:
    """The engine networks labelled as the job ``name``'s (an isolated multi-instance container job's)."""
    return _podman(
        "network", "ls", "--filter", f"label=sagestack.job={name}", "--format", "{{.Name}}", check=False
    ).stdout.split()


def _mirror() -> str:
    """The Debian mirror apt uses here (its sources), else deb.debian.org."""
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if line.startswith("URIs:") and len(words) > 1 and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2 and "security" not in line:
                return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


def base_image() -> str:
    """The imported base image (built once per recipe; the rootfs tarball is cached)."""
    key = hashlib.sha256(" ".join(BASE_RECIPE).encode()).hexdigest()[:16]
    tag = f"localhost/sagestack-test-base:{key}"
    if _podman("image", "exists", tag, check=False).returncode == 0:
        return tag
    tarball = cache_dir() / f"rootfs-{key}.tar"
    if not tarball.exists():
        if not shutil.which("mmdebstrap"):
            raise RuntimeError(
                "mmdebstrap is needed to build the test base image (.ci/podman.sh installs it)"
            )
        partial = tarball.with_suffix(".partial.tar")
        subprocess.run(
            ["mmdebstrap", "--quiet", *BASE_RECIPE, str(partial), _mirror()], check=True, timeout=1200
        )
        partial.rename(tarball)
    _podman("import", str(tarball), tag)
    return tag


def byoc_image() -> str:
    """Build (when its recipe changed) the BYOC test image and tag it as an ECR URI."""
    return _build(BYOC_IMAGE, "byoc-context", {"train": "train", "serve": "serve"})


def mme_image() -> str:
    """Build (when its recipe changed) the multi-model test image and tag it as an ECR URI."""
    return _build(MME_IMAGE, "mme-context", {"mme-serve": "serve"})


def _build(image: str, context_name: str, files: dict[str, str]) -> str:
    """An image FROM the base with ``files`` (byoc/<name> → /usr/local/bin/<command>), rebuilt only when
    its recipe (the base and the files) changed."""
    with open(cache_dir() / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one build at a time
        base = base_image()
        recipe = hashlib.sha256(
            base.encode() + b"".join((HERE / "byoc" / name).read_bytes() for name in files)
        ).hexdigest()[:16]
        found = _podman(
            "image",
            "inspect",
            "--format",
            '{{index .Labels "sagestack.test.recipe"}}',
            image,
            check=False,
        )
        if found.returncode == 0 and found.stdout.strip() == recipe:
            return image
        context = cache_dir() / context_name
        shutil.rmtree(context, ignore_errors=True)
        context.mkdir(parents=True)
        for name, command in files.items():
            shutil.copy2(HERE / "byoc" / name, context / command)
        (context / "Containerfile").write_text(
            f"FROM {base}\n"
            f"COPY {' '.join(files.values())} /usr/local/bin/\n"
            f"ENV PATH=/usr/local/bin:/usr/bin:/bin PYTHONUNBUFFERED=1\n"
            f"WORKDIR /opt/program\n"
            f"LABEL sagestack.test.recipe={recipe}\n"
        )
        _podman("build", "--pull=never", "-t", image, str(context))
        return image
