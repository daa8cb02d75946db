"""What a job's entry (running as the server's user, root where it can) does, in the job's own mount
namespace, before it runs the job's code: a private ``/tmp``, the data dir and the directories the job
user cannot traverse replaced by empty ones with only what the job needs bound back at the same absolute
paths, the job's tree handed to that user, and the process's privileges dropped to it.

Standard library only; Linux. Every step either works or says in one line why not (the entry prints it
into the job log); a job never silently runs with less isolation than the log says.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

MS_BIND = 4096
MS_REC = 16384
MS_NOSUID = 2
MS_NODEV = 4
O_PATH = getattr(os, "O_PATH", 0o10000000)
PR_SET_NO_NEW_PRIVS = 38
MNT_DETACH = 2
#: Values of SAGESTACK_JOB_USER that keep the job as the server's user.
KEEP_SERVER_USER = ("", "root")
#: The server's own credentials among its environment variables (its settings are ``SAGESTACK_*``).
SERVER_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "PGPASSWORD",
)


def without_server_secrets(env) -> dict[str, str]:
    """``env`` (the server's environment) less what is the server's alone: its settings (``SAGESTACK_*``:
    the database URL, the remote object store's keys, …) and the credentials it was started with. What
    code the server starts from its own environment (a model worker) is given."""
    return {k: v for k, v in env.items() if not k.startswith("SAGESTACK_") and k not in SERVER_CREDENTIALS}


@dataclass(frozen=True)
class JobUser:
    name: str
    uid: int
    gid: int


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _errno() -> str:
    return os.strerror(ctypes.get_errno())


def resolve_user(name: str) -> tuple[JobUser | None, str | None]:
    """(the user the job's code runs as, None) — or (None, why the job keeps the server's user)."""
    name = (name or "").strip()
    if name in KEEP_SERVER_USER:
        return None, "SAGESTACK_JOB_USER is root or empty"
    if os.geteuid() != 0:
        return None, "the server does not run as root"
    try:
        entry = pwd.getpwnam(name) if not name.isdigit() else pwd.getpwuid(int(name))
    except KeyError:
        return None, f"there is no user {name!r} on this machine"
    if entry.pw_uid == 0:
        return None, f"the user {name!r} is root"
    return JobUser(entry.pw_name, entry.pw_uid, entry.pw_gid), None


def can_traverse(path: Path, user: JobUser) -> bool:
    """Whether ``user`` may search the directory ``path`` (its own permission bits, no ACLs)."""
    try:
        info = path.stat()
    except OSError:
        return False
    if info.st_uid == user.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == user.gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def blocking_ancestor(path: Path, user: JobUser) -> Path | None:
    """The shallowest directory above ``path`` that ``user`` cannot traverse, or None."""
    for ancestor in reversed(path.parents):
        if ancestor == Path("/"):
            continue
        if not can_traverse(ancestor, user):
            return ancestor
    return None


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def outermost(paths) -> list[Path]:
    """``paths`` without those inside another one of them, shallowest first."""
    kept: list[Path] = []
    for path in sorted(set(paths), key=lambda p: (len(p.parts), str(p))):
        if not any(_under(path, top) for top in kept):
            kept.append(path)
    return kept


def python_dirs(python: str | None) -> list[Path]:
    """What running ``python`` needs: its environment (a venv's folder) and the installation its
    ``pyvenv.cfg`` names, and the real interpreter's installation."""
    if not python:
        return []
    out: list[Path] = []
    exe = Path(python)
    env_dir = exe.parent.parent
    out.append(env_dir)
    cfg = env_dir / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                out.append(Path(value.strip()).parent)
    real = Path(os.path.realpath(exe))
    out.append(real.parent.parent)
    return out


@dataclass
class Plan:
    """Where the job's private ``/tmp`` lives on disk, which directories get replaced (``masks``) and what
    is bound back inside them (``keep``)."""

    tmp: Path
    masks: list[Path]
    keep: list[Path]


def plan(tmp: Path, needed, hide, user: JobUser | None) -> Plan:
    """``needed``: paths the job must still reach at their absolute paths; ``hide``: directories to empty
    (the data dir); ``/tmp`` is always replaced by ``tmp``; with a ``user``, every directory above a needed
    path that the user cannot traverse is replaced as well."""
    keep = outermost(Path(os.path.realpath(p)) for p in needed if p and os.path.exists(p))
    masks = [Path("/tmp")] + [Path(os.path.realpath(h)) for h in hide if h and os.path.isdir(h)]
    if user is not None:
        for path in keep:
            block = blocking_ancestor(path, user)
            if block is not None:
                masks.append(block)
    masks = outermost(m for m in masks if m != Path("/"))
    return Plan(tmp, masks, keep)


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> str | None:
    result = _libc().mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    return None if result == 0 else f"mount {target} failed: {_errno()}"


def apply(p: Plan) -> str | None:
    """Carry out ``p`` in this (private) mount namespace; None on success, else why not. The needed paths
    are held open (O_PATH) before anything is covered and bound back from those handles."""
    handles: dict[Path, int] = {}
    mounted: list[str] = []
    try:
        tmp_fd = os.open(p.tmp, O_PATH | os.O_DIRECTORY)
        for path in p.keep:
            handles[path] = os.open(path, O_PATH)
        for mask in p.masks:
            if mask == Path("/tmp"):
                problem = _mount(f"/proc/self/fd/{tmp_fd}", "/tmp", None, MS_BIND)
            else:
                problem = _mount("tmpfs", str(mask), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
            if problem:
                return _undo(mounted, problem)
            mounted.append(str(mask))
            for path in [k for k in p.keep if _under(k, mask)]:
                if path == mask:
                    problem = _mount(f"/proc/self/fd/{handles[path]}", str(path), None, MS_BIND | MS_REC)
                else:
                    problem = _bind_back(path, handles[path])
                if problem:
                    return _undo(mounted, problem)
        os.chmod("/tmp", 0o1777)
        return None
    except OSError as exc:
        return _undo(mounted, f"{exc}")
    finally:
        for fd in handles.values():
            os.close(fd)
        if "tmp_fd" in locals():
            os.close(tmp_fd)


def _undo(mounted: list[str], problem: str) -> str:
    """Take the covers off again (the job then runs with the host's paths, as the log says)."""
    for target in reversed(mounted):
        _libc().umount2(target.encode(), MNT_DETACH)
    return problem


def _bind_back(path: Path, fd: int) -> str | None:
    is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
    for parent in reversed(path.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
    if is_dir:
        path.mkdir(mode=0o755, exist_ok=True)
    elif not path.exists():
        path.touch(mode=0o644)
    return _mount(f"/proc/self/fd/{fd}", str(path), None, MS_BIND | MS_REC)


def writable_copy(target: str, scratch: Path, user: JobUser | None) -> str | None:
    """Make the system folder ``target`` (``/lib``) writable for this process and its children alone: an
    overlay on it in this (private) mount namespace whose changes land in ``scratch`` and never reach the
    host's folder. Its top is ``user``'s, so the code may add files there as a container's root could.
    Where ``scratch``'s file system cannot hold an overlay's changes (an overlay itself, as in a container),
    a tmpfs mounted on ``scratch`` holds them. None on success, else why not."""
    real = os.path.realpath(target)
    if any(c in str(scratch) for c in ",:\\"):
        return f"{scratch} holds a character an overlay's options cannot carry"
    upper, work = scratch / "upper", scratch / "work"
    problem = None
    for attempt in ("disk", "tmpfs"):
        try:
            if attempt == "tmpfs":
                scratch.mkdir(parents=True, exist_ok=True)
                if _mount("tmpfs", str(scratch), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"):
                    return problem
            for folder in (upper, work):
                folder.mkdir(parents=True, exist_ok=True)
            os.chmod(upper, stat.S_IMODE(os.stat(real).st_mode))
            if user is not None:
                os.chown(upper, user.uid, user.gid)
        except OSError as exc:
            return f"{exc}"
        problem = _mount("overlay", real, "overlay", 0, f"lowerdir={real},upperdir={upper},workdir={work}")
        if problem is None:
            return None
    return problem


def hand_over(paths, user: JobUser) -> None:
    """Make the job's own trees (its ``/opt/ml`` on disk, its home) the job user's. Symbolic links are not
    followed, and a file with several hard links is left as it is (a job restarted on its directory may
    have linked someone else's file there)."""
    for top in paths:
        top = Path(top)
        if not top.exists():
            continue
        os.chown(top, user.uid, user.gid, follow_symlinks=False)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    info = os.lstat(path)
                    if not stat.S_ISDIR(info.st_mode) and info.st_nlink > 1:
                        continue
                    os.chown(path, user.uid, user.gid, follow_symlinks=False)
                except OSError:
                    pass


def drop_to(user: JobUser) -> None:
    """From here on this process (and all it starts) is ``user``: no supplementary groups, no way back,
    no privileges gained through set-user-id programs."""
    os.setgroups([])
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def runtime_paths(python: str | None = None) -> list[str]:
    """What running Python code needs at its paths: this interpreter's environment and installation,
    ``python``'s (a framework environment), the folders on this process's import path (sagestack's own
    sources where it is installed in development mode: a ``.pth`` entry, not ``PYTHONPATH``; the first
    entry, the working directory, is left out), ``PYTHONPATH``'s folders and pip's local wheel folders."""
    import sys

    return [
        *(str(p) for p in python_dirs(sys.executable)),
        sys.prefix,
        sys.base_prefix,
        str(Path(__file__).resolve().parents[1]),  # the folder sagestack is imported from
        *(p for p in sys.path[1:] if p and os.path.isdir(p)),
        *(str(p) for p in python_dirs(python)),
        *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p),
        *(p for p in os.environ.get("PIP_FIND_LINKS", "").split() if p.startswith("/")),
    ]


@dataclass
class Outcome:
    """What :func:`confine` did: its log lines, and the user the process now runs as (None: unchanged)."""

    lines: list[str]
    user: JobUser | None


def confine(
    *,
    what: str,
    user_name: str,
    tmp: Path,
    home: Path,
    own,
    needed,
    hide,
    writable: dict[str, Path] | None = None,
) -> Outcome:
    """In this process's own (private) mount namespace: ``tmp`` becomes ``/tmp``, ``hide`` (the data dir)
    and the directories the user cannot traverse are emptied but for ``needed`` (and ``own``), ``own``
    (the trees the code writes: ``tmp`` and ``home`` among them) is handed to the user, and the process
    becomes the user named ``user_name`` (SAGESTACK_JOB_USER) where the server runs as root. ``what`` names
    the code in the log lines ("job", "model"). ``writable`` maps system folders the code writes (as root
    in a container) to the scratch folders their private copies go to (:func:`writable_copy`). Every
    outcome is said in one line."""
    import pwd

    user, why_not = resolve_user(user_name)
    try:
        server_user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        server_user = f"uid {os.geteuid()}"
    own = [Path(p) for p in own if p]
    if user is not None:  # before anything is bound into the trees (a walk would loop through the binds)
        home.mkdir(parents=True, exist_ok=True)
        hand_over(own, user)
        os.chown(tmp, 0, 0)  # /tmp: root's, mode 1777, as usual
    lines: list[str] = []
    for target, scratch in (writable or {}).items():  # after the hand-over: its walk stays out of them
        problem = writable_copy(target, scratch, user)
        lines.append(
            f"{target} is writable for this {what} alone (an overlay; the host's is unchanged)"
            if problem is None
            else f"{target} stays read-only for the {what} ({problem})"
        )
    p = plan(tmp, [str(x) for x in [*needed, *own] if x], hide, user)
    problem = apply(p)
    if problem:
        return Outcome([*lines, f"no private /tmp ({problem}); the {what} runs as {server_user}"], None)
    for name in ("TMPDIR", "TMP", "TEMP"):
        os.environ[name] = "/tmp"
    hidden = ["the data dir"] + [str(m) for m in p.masks if m != Path("/tmp")]
    lines += [
        f"/tmp is this {what}'s own (empty at start); {', '.join(hidden)} hidden from the {what} but "
        "for the paths it needs"
    ]
    if user is None:
        return Outcome([*lines, f"the {what}'s code runs as {server_user} ({why_not})"], None)
    os.environ.update({"HOME": str(home), "USER": user.name, "LOGNAME": user.name})
    drop_to(user)
    lines.append(f"the {what}'s code runs as the user {user.name} (uid {user.uid}), not {server_user}")
    return Outcome(lines, user)
