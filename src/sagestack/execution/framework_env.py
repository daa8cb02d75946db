"""The Python a script-mode job's code runs on: the framework version its image tag names.

Before a training or processing job on a scikit-learn, XGBoost or PyTorch image starts its processes, the
run asks :func:`job_python` for the interpreter: the framework environment of the tag's version
(:mod:`sagestack.environments.frameworks`), built here on the server's side the first time (so that a job
with EnableNetworkIsolation gets it too) and reused from the cache after. Every decision is a line in the
job's log: which environment, built or cached, and why it differs from the tag where it does.
"""

from __future__ import annotations

from collections.abc import Callable

from ..domain.images import ImageInfo
from ..environments import EnvironmentBuildError, environment_cache
from ..environments.frameworks import UnknownFrameworkVersion, resolve_framework


class FrameworkUnavailable(Exception):
    """The job cannot run on its framework version; the message is the job's FailureReason."""


def job_python(platform, image: ImageInfo, say: Callable[[str], None]) -> str | None:
    """The interpreter for the job's code (None: the server's own, as for images without a framework
    environment). ``say`` takes log lines. Raises :class:`FrameworkUnavailable`."""
    if not image.framework or not platform.settings.framework_versions:
        return None
    try:
        env = resolve_framework(image.framework, image.version)
    except UnknownFrameworkVersion as exc:
        raise FrameworkUnavailable(f"ClientError: image {image.uri}: {exc}.") from None
    if env is None:
        return None
    for note in env.notes:
        say(f"sagestack: {note}")
    if env.uses_server:
        return None
    cache = environment_cache(platform)
    if cache.ready(env):
        info = cache.info(env)
        say(
            f"sagestack: framework environment {env.description}: reusing the cached environment "
            f"{cache.path(env)} ({_installed(env, info)})"
        )
        return str(cache.python_of(env))
    try:
        python = cache.ensure(env, log=lambda line: say(f"sagestack: {line}"))
    except EnvironmentBuildError as exc:
        raise FrameworkUnavailable(
            f"ClientError: could not build the {env.description} environment for image {image.uri}: "
            f"{exc}: {exc.tail or '(no output)'}"
        ) from None
    say(f"sagestack: framework environment {env.description}: {_installed(env, cache.info(env))}")
    return str(python)


def _installed(env, info: dict) -> str:
    installed = info.get("installed") or {}
    package = env.specs[0].split("==")[0]
    version = installed.get(package)
    return f"{package} {version} installed" if version else "built"
