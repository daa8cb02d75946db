"""``amazon_sagemaker_scheduler``: the SageMaker Distribution image's notebook-job entry point.

A ``NotebookJobStep`` (and a Studio notebook job) is a training job whose container runs this command. As
the real one does, it

* copies the input notebook (``SM_INPUT_NOTEBOOK_NAME`` in ``SM_EXECUTION_INPUT_PATH``, the step's input
  channel holding the notebook, the init script and the additional dependencies) to ``/opt/ml/output/data``;
* sources the init script (``SM_INIT_SCRIPT``) in the input folder with bash, so that the variables it
  exports reach the notebook;
* runs the notebook with papermill on the kernel ``SM_KERNEL_NAME``, in the input folder, with the job's
  hyperparameters (``/opt/ml/input/config/hyperparameters.json``, the step's ``parameters``) injected
  after the notebook's ``parameters`` cell; the executed notebook is ``/opt/ml/output/data/
  <SM_OUTPUT_NOTEBOOK_NAME>``, so it lands in the job's ``output.tar.gz``, also when a cell fails;
* keeps its output as ``/opt/ml/output/data/sagemaker_job_execution.log``;
* on a failure writes ``/opt/ml/output/failure`` (``Error with executing notebook`` and the cell's error)
  and exits non-zero; a stop (SIGTERM) shuts the kernel down and ends the job the same way.

The kernel is the job's own Python (its venv layered on the server's environment, see
:mod:`.job_python`), registered under the name the job asks for in a Jupyter path inside the job's
directory; Jupyter's data, runtime and config directories and IPython's are there too — never in the
user's home. papermill and ipykernel come with ``pip install 'sagestack[notebooks]'``.

Run as ``python -m sagestack.execution.notebook_job`` (the job's ``bin/amazon_sagemaker_scheduler``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

OPT_ML = "/opt/ml"
CHANNEL = "sagemaker_headless_execution_pipelinestep"
MISSING = (
    "ClientError: the notebook job cannot run: {missing} not installed in the sagestack server's Python "
    "environment. Notebook jobs (NotebookJobStep) run the notebook with papermill on an IPython kernel: "
    "pip install 'sagestack[notebooks]' and restart the server."
)


class NotebookJobError(Exception):
    """A failure of the job: its text goes to ``/opt/ml/output/failure``."""


def ml_root() -> Path:
    """The job's ``/opt/ml`` as this process sees it (its own directory when there is no private mount)."""
    return Path(os.environ.get("SM_INPUT_DIR", f"{OPT_ML}/input")).parent


def local(path: str, root: Path) -> Path:
    """``path`` with a leading ``/opt/ml`` mapped onto the job's directory."""
    if path == OPT_ML or path.startswith(OPT_ML + "/"):
        return root / path[len(OPT_ML) :].lstrip("/")
    return Path(path)


def output_notebook_name(name: str) -> str:
    """The output notebook's file name as the real scheduler fixes it: ``.`` and ``:`` (from timestamps in
    pipeline variables) become ``-``, and the name keeps one ``.ipynb`` extension."""
    return re.sub(r"-*ipynb$", ".ipynb", name.replace(".", "-").replace(":", "-"))


def missing_packages() -> list[str]:
    return [name for name in ("papermill", "ipykernel") if importlib.util.find_spec(name) is None]


def jupyter_environment(home: Path, kernel_name: str) -> dict[str, str]:
    """Register ``kernel_name`` as this job's Python in ``home`` (the job's own Jupyter path); the variables
    that point Jupyter and IPython there."""
    spec_dir = home / "data" / "kernels" / kernel_name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"{kernel_name} (sagestack job Python)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    for part in ("runtime", "config", "ipython"):
        (home / part).mkdir(parents=True, exist_ok=True)
    return {
        "JUPYTER_PATH": str(home / "data"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "IPYTHONDIR": str(home / "ipython"),
    }


def source_init_script(script: Path, workdir: Path, scratch: Path) -> dict[str, str]:
    """Source ``script`` with bash in ``workdir``; the environment it leaves behind."""
    if not script.is_file():
        raise NotebookJobError(f"Error with running init script\nCannot find the init script: {script.name}")
    dump = scratch / "init-script-environment.json"
    shell = shutil.which("bash") or "/bin/sh"
    program = (
        'set -e; cd "$1"; . "$2"; '
        'exec "$3" -c "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], \'w\'))" "$4"'
    )
    print(f"sagestack: sourcing the init script {script.name}", flush=True)
    result = subprocess.run(
        [shell, "-c", program, "init-script", str(workdir), str(script), sys.executable, str(dump)],
        stdout=sys.stdout,
        stderr=sys.stdout,
    )
    if result.returncode != 0 or not dump.is_file():
        raise NotebookJobError(
            f"Error with running init script\nThe init script {script.name} exited with code {result.returncode}"
        )
    return json.loads(dump.read_text())


def cell_error(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    if ename is not None:  # papermill's PapermillExecutionError: a cell raised
        return f'{ename}: {exc.evalue} (in cell "In [{exc.exec_count}]")'  # type: ignore[attr-defined]
    return f"{type(exc).__name__}: {exc}"


def interrupted(root: Path) -> None:
    """A stop (SIGTERM): end the kernel (papermill started it in a session of its own, so the job's process
    group does not reach it) and the job, as the real scheduler does."""
    import psutil

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough (the job's process group gets it too)
    write_failure(root, "Notebook execution is interrupted.")
    print("sagestack: interrupted: shutting the kernel down", file=sys.stderr, flush=True)
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    os._exit(1)


def write_failure(root: Path, text: str) -> None:
    failure = root / "output" / "failure"
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(text)


def run() -> None:
    root = ml_root()
    input_dir = local(os.environ.get("SM_EXECUTION_INPUT_PATH") or f"{OPT_ML}/input/data/{CHANNEL}", root)
    output_dir = root / "output" / "data"
    output_dir.mkdir(parents=True, exist_ok=True)
    input_name = os.environ.get("SM_INPUT_NOTEBOOK_NAME")
    output_name = os.environ.get("SM_OUTPUT_NOTEBOOK_NAME")
    if not input_name or not output_name:
        raise NotebookJobError(
            "Error with preparing the input notebook\nSM_INPUT_NOTEBOOK_NAME and SM_OUTPUT_NOTEBOOK_NAME "
            "must name the input and output notebooks"
        )
    notebook = input_dir / input_name
    if not notebook.is_file():
        raise NotebookJobError(
            f"Error with preparing the input notebook\nCannot find input notebook: {input_name}"
        )
    shutil.copy2(notebook, output_dir / input_name)
    version = os.environ.get("SM_JOB_DEF_VERSION", "1.0")
    if version != "1.0":
        raise NotebookJobError(f"Cannot handle SageMaker job definition version: {version}")
    missing = missing_packages()
    if missing:
        raise NotebookJobError(
            MISSING.format(missing=" and ".join(missing) + (" is" if len(missing) == 1 else " are"))
        )

    home = Path(os.environ.get("VIRTUAL_ENV") or sys.prefix).parent / "jupyter"
    kernel_name = os.environ.get("SM_KERNEL_NAME") or "python3"
    os.environ.update(jupyter_environment(home, kernel_name))
    init_script = os.environ.get("SM_INIT_SCRIPT")
    if init_script:
        os.environ.update(source_init_script(input_dir / init_script, input_dir, home))
    else:
        print("sagestack: no init script is specified", flush=True)

    params_path = root / "input" / "config" / "hyperparameters.json"
    parameters = json.loads(params_path.read_text()) if params_path.is_file() else {}
    target = output_dir / output_notebook_name(output_name)
    print(
        f"Use Kernel {kernel_name} to execute {input_name} with output to {target.name}. Params: {parameters}",
        flush=True,
    )
    import papermill

    signal.signal(signal.SIGTERM, lambda *_: interrupted(root))
    os.chdir(input_dir)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(target),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=True,
            cwd=str(input_dir),
        )
    except Exception as exc:
        print(f"Exception during processing notebook: {exc}", file=sys.stderr, flush=True)
        written = (
            "the output notebook was written" if target.is_file() else "no output notebook was generated"
        )
        raise NotebookJobError(
            f"Error with executing notebook\nException during processing notebook: {cell_error(exc)}; {written}"
        ) from exc
    print("Execution complete; the output notebook was generated", flush=True)


def execute() -> int:
    """The job itself (in the process ``main`` supervises)."""
    root = ml_root()
    try:
        run()
    except NotebookJobError as exc:
        text = str(exc)
        print(text, file=sys.stderr, flush=True)
        write_failure(root, text)
        return 2 if text.startswith("ClientError:") else 1
    print("Notebook execution is complete", flush=True)
    return 0


#: The copy of the job's output beside the output notebook, as the real scheduler leaves it.
LOG_NAME = "sagemaker_job_execution.log"


def main(argv: list[str] | None = None) -> int:
    """Run :func:`execute` in a child process whose output goes to this one's and to
    ``sagemaker_job_execution.log``, copied to ``/opt/ml/output/data`` when it ends (also after a failure
    or a stop: a SIGTERM reaches the child, which shuts its kernel down)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--execute"]:
        return execute()
    root = ml_root()
    log_path = Path(os.environ.get("VIRTUAL_ENV") or sys.prefix).parent / LOG_NAME
    child = subprocess.Popen(
        [sys.executable, "-m", "sagestack.execution.notebook_job", "--execute"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # A stop: the child shuts its kernel down and ends; this process waits for it and keeps the log.
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    lock = threading.Lock()
    with log_path.open("ab") as log:

        def pump(stream, sink) -> None:
            for line in iter(stream.readline, b""):
                with lock:
                    log.write(line)
                    log.flush()
                sink.buffer.write(line)
                sink.flush()

        threads = [
            threading.Thread(target=pump, args=(child.stdout, sys.stdout), daemon=True),
            threading.Thread(target=pump, args=(child.stderr, sys.stderr), daemon=True),
        ]
        for thread in threads:
            thread.start()
        code = child.wait()
        for thread in threads:
            thread.join(timeout=5)
    try:
        (root / "output" / "data").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_path, root / "output" / "data" / LOG_NAME)
    except OSError as exc:
        print(f"sagestack: could not copy {LOG_NAME}: {exc}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
