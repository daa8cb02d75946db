"""Where a job host's process runs is a strategy (``HostProcess.launcher``): the Ray executor's launcher
returns a Popen-like handle of a process on a cluster node. Supervision streams its output, passes the
peers' addresses, signals it through the handle and reports a lost node — without Ray here."""

from __future__ import annotations

import json
import re
import signal

from sagestack.execution.layout import HostLayout
from sagestack.execution.training import supervision
from sagestack.execution.training.job import HostProcess, StopRequest
from sagestack.execution.training.metrics import MetricCollector


class FakeStorage:
    def __init__(self):
        self.lines: list[str] = []

    def append_logs(self, group, stream, events):
        self.lines += [message for _, message in events]


class RemoteProcess:
    """What a launcher on a cluster returns: output lines (b"" = an idle read), exit code, signals."""

    remote = True
    pid = 4242  # a pid on another machine: never signalled here

    def __init__(self, lines: list[bytes], code: int, lost: str | None = None):
        self.stdout = iter(lines)
        self.returncode = code
        self.lost = lost
        self.signals: list[int] = []

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        self.signals.append(sig)


def _host(tmp_path, name: str, process: RemoteProcess, calls: list) -> HostProcess:
    def launcher(argv, env, cwd):
        calls.append((argv, env, cwd))
        return process

    layout = HostLayout(tmp_path / name, tmp_path / name)
    layout.root.mkdir(parents=True)
    return HostProcess(
        name, layout, f"job/{name}", launcher=launcher, peers={"algo-1": "10.0.0.1", "algo-2": "10.0.0.2"}
    )


def test_remote_host_output_peers_and_signals(tmp_path):
    storage, calls = FakeStorage(), []
    process = RemoteProcess([b"loss: 0.5\n", b"", b"done\n"], 0)
    host = _host(tmp_path, "algo-1", process, calls)
    metrics = MetricCollector([("loss", re.compile(r"loss: ([0-9.]+)"))])
    supervision.spawn(
        host,
        runner="script",
        config={"job_name": "job"},
        environment=None,
        cpus=1,
        storage=storage,
        log_group="/aws/sagemaker/TrainingJobs",
        metrics=metrics,
        name="job",
    )
    host.reader.join(5)
    ((argv, env, cwd),) = calls
    assert argv[1:] == ["-m", "sagestack.execution.entry"] and cwd == str(host.layout.root)
    assert json.loads(env["SAGESTACK_HOST_ADDRESSES"]) == {"algo-1": "10.0.0.1", "algo-2": "10.0.0.2"}
    assert storage.lines == ["loss: 0.5", "done"]  # the idle read added no line
    assert metrics.final()[0]["Value"] == 0.5
    assert host.remote and host.lost is None
    supervision.signal_all([host], signal.SIGTERM)
    assert process.signals == [signal.SIGTERM]


def test_a_lost_host_stops_the_others(tmp_path):
    calls: list = []
    lost = RemoteProcess([], -9, lost="Ray node abc (10.0.0.2) died")
    alive = RemoteProcess([], None)
    hosts = [_host(tmp_path, "algo-1", alive, calls), _host(tmp_path, "algo-2", lost, calls)]
    for host in hosts:
        host.process = host.launcher([], {}, "")
    stop = StopRequest()

    def finish_when_signalled():  # the other host ends once it is told to
        if alive.signals:
            alive.returncode = -15

    codes = supervision.supervise(
        hosts, {"MaxRuntimeInSeconds": 60}, 0.0, 0.0, stop, lambda: False, [(0.0, finish_when_signalled)]
    )
    assert codes == [-15, -9]
    assert alive.signals[0] == signal.SIGTERM
    assert [h.lost for h in hosts] == [None, "Ray node abc (10.0.0.2) died"]
