"""The container engine's command line and the ECR view of its images (no engine needed)."""

from __future__ import annotations

import datetime as dt

from sagestack.containers.engine import (
    Engine,
    EngineError,
    RunSpec,
    _size,
    _subnets,
    container_name,
    resolve,
    run_command,
)
from sagestack.domain import images
from sagestack.domain.repositories import images_by_repository

ENGINE = Engine("podman", "/usr/bin/podman")


def test_run_command_keeps_values_off_the_command_line():
    spec = RunSpec(
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:1",
        name="sagestack-job-algo-1",
        args=["--epochs", "3"],
        entrypoint=["python3", "/opt/program/train.py"],
        environment={"AWS_SECRET_ACCESS_KEY": "s3cr3t", "SM_HPS": '{"a": 1}'},
        mounts=[("/data/job/algo-1", "/opt/ml", False), ("/models/m", "/opt/ml/model", True)],
        network="none",
        hostname="algo-1",
        hosts={"algo-1": "127.0.0.1"},
        ports=[("127.0.0.1", 40001, 8080)],
    )
    command, env = run_command(ENGINE, spec)
    assert command[:6] == ["/usr/bin/podman", "run", "--rm", "--pull", "never", "--name"]
    assert "s3cr3t" not in " ".join(command) and env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t"
    assert ["-e", "AWS_SECRET_ACCESS_KEY"] == command[command.index("AWS_SECRET_ACCESS_KEY") - 1 :][:2]
    assert env["SM_HPS"] == '{"a": 1}'
    assert ["--network", "none"] == command[command.index("--network") :][:2]
    assert "/data/job/algo-1:/opt/ml" in command and "/models/m:/opt/ml/model:ro" in command
    assert "127.0.0.1:40001:8080" in command and "algo-1:127.0.0.1" in command
    # the entrypoint's first word is --entrypoint (docker takes one), the rest go before the arguments
    assert command[command.index("--entrypoint") + 1] == "python3"
    assert command[-4:] == [spec.image, "/opt/program/train.py", "--epochs", "3"]


def test_container_names_and_engine_choice():
    assert container_name("my job", "algo-1") == "sagestack-my-job-algo-1"
    assert len(container_name("x" * 300)) == 200
    assert resolve("none") is None
    assert resolve("no-such-engine-here") is None


def test_own_images_are_the_ones_sagestack_does_not_run_itself():
    own = images.parse_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo:latest")
    assert images.is_own_image(own)
    assert images.training_runner(own, {}, False, containers=True) == "container"
    assert images.processing_runner(own, containers=True) == "container"
    for uri in (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1",
        "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.3-cpu",
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
    ):
        assert not images.is_own_image(images.parse_image(uri)), uri


def test_local_images_grouped_as_ecr_repositories():
    local = [
        {
            "id": "abc",
            "names": [
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/algo:v1",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/algo:latest",
                "localhost/other:1",
            ],
            "digest": "sha256:d1",
            "created": 1700000000,
            "size": 10,
        },
        {
            "id": "def",
            "names": ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/algo:v1"],
            "digest": "",
            "created": "2024-05-01T10:00:00Z",
            "size": 5,
        },
    ]
    repos = images_by_repository(local, "123456789012", "us-east-1")
    assert list(repos) == ["team/algo"]
    (image,) = repos["team/algo"]
    assert image.digest == "sha256:d1" and sorted(image.tags) == ["latest", "v1"] and image.size == 10
    assert image.pushed_at == dt.datetime.fromtimestamp(1700000000, dt.timezone.utc)
    other = images_by_repository(local, "123456789012", "eu-west-1")["team/algo"][0]
    assert other.digest == "sha256:def" and other.pushed_at.year == 2024


def test_docker_sizes():
    assert _size(1234) == 1234 and _size("12.5MB") == 12_500_000 and _size("512B") == 512 and _size("?") == 0


def test_a_host_on_a_job_network_gets_its_address_and_every_peer_resolves():
    spec = RunSpec(
        image="img",
        name="c",
        network="sagestack-job-1",
        ip="10.89.3.3",
        hostname="algo-2",
        hosts={"algo-1": "10.89.3.2", "algo-2": "10.89.3.3"},
    )
    command, _ = run_command(Engine("podman", "/usr/bin/podman"), spec)
    assert command[command.index("--network") + 1] == "sagestack-job-1"
    assert command[command.index("--ip") + 1] == "10.89.3.3"
    added = [command[i + 1] for i, word in enumerate(command) if word == "--add-host"]
    assert added == ["algo-1:10.89.3.2", "algo-2:10.89.3.3"]
    assert "--ip" not in run_command(Engine("podman", "/usr/bin/podman"), RunSpec(image="i", name="n"))[0]
    docker, _ = run_command(
        Engine("docker", "/usr/bin/docker"), RunSpec(image="i", name="n", aliases=["algo-1"])
    )
    assert docker[docker.index("--network-alias") + 1] == "algo-1"


def test_network_subnets_of_podman_and_docker():
    podman = {
        "subnets": [
            {"subnet": "fd00::/64", "gateway": "fd00::1"},
            {"subnet": "10.89.1.0/24", "gateway": "10.89.1.1"},
        ]
    }
    docker = {"IPAM": {"Config": [{"Subnet": "172.20.0.0/16"}]}}
    [(subnet, gateway)] = _subnets(podman)
    assert str(subnet) == "10.89.1.0/24" and gateway == "10.89.1.1"
    [(subnet, gateway)] = _subnets(docker)
    assert str(subnet) == "172.20.0.0/16" and gateway == "172.20.0.1"
    assert _subnets({}) == [] and _subnets({"subnets": [{"subnet": "bad"}]}) == []


class _NetworkEngine:
    """An engine whose network creation is recorded (or fails)."""

    def __init__(self, name="podman", error=None):
        self.name, self.error, self.created = name, error, []

    def create_internal_network(self, network, labels, count):
        if self.error:
            raise EngineError(self.error)
        self.created.append((network, labels, count))
        return [f"10.89.7.{i}" for i in range(2, 2 + count)]


def _hosts(tmp_path, count):
    from sagestack.execution.layout import HostLayout
    from sagestack.execution.training.job import HostProcess

    return [
        HostProcess(f"algo-{i}", HostLayout(tmp_path / f"algo-{i}", tmp_path / f"algo-{i}"), "s")
        for i in range(1, count + 1)
    ]


def test_isolated_jobs_of_several_hosts_get_a_network_of_their_own(tmp_path):
    import pytest

    from sagestack.execution import container_jobs
    from sagestack.execution.training.job import JobFailed

    engine = _NetworkEngine()
    assert container_jobs.open_network(engine, _hosts(tmp_path, 2), "job", isolated=False) is None
    assert container_jobs.open_network(engine, _hosts(tmp_path, 1), "job", isolated=True) is None
    assert engine.created == []
    hosts = _hosts(tmp_path, 2)
    network = container_jobs.open_network(engine, hosts, "job", isolated=True)
    [(name, labels, count)] = engine.created
    assert network.name == name and name.startswith("sagestack-job-") and count == 2
    assert labels == {"sagestack.job": "job", container_jobs.JOB_DIR_LABEL: str(tmp_path)}
    peers = {"algo-1": "10.89.7.2", "algo-2": "10.89.7.3"}
    assert container_jobs._network(hosts[1], ["algo-1", "algo-2"], True, network) == {
        "network": name,
        "ip": "10.89.7.3",
        "hosts": peers,
    }
    assert container_jobs._network(hosts[0], ["algo-1"], True, None) == {"network": "none", "hosts": {}}
    assert container_jobs._network(hosts[0], ["algo-1", "algo-2"], False, None)["hosts"] == {
        "algo-1": "127.0.0.1",
        "algo-2": "127.0.0.1",
    }
    docker = container_jobs.open_network(_NetworkEngine("docker"), hosts, "job", isolated=True)
    assert container_jobs._network(hosts[0], ["algo-1", "algo-2"], True, docker) == {
        "network": docker.name,
        "aliases": ["algo-1"],
        "hosts": {},
    }
    with pytest.raises(JobFailed, match="InternalServerError: podman could not create the network"):
        container_jobs.open_network(_NetworkEngine(error="no subnet left"), hosts, "job", isolated=True)
