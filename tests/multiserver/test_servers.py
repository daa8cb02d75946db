"""Two servers on one PostgreSQL database and one data dir: any server answers any call."""

from __future__ import annotations

import time

import pytest

from servers_support import cluster_server, create_echo_endpoint, invoke, wait_endpoint

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def pair(pg_database, tmp_path_factory):
    data = tmp_path_factory.mktemp("cluster") / "data"
    a = cluster_server(data, pg_database).start(timeout=60)
    b = cluster_server(data, pg_database).start(timeout=60)
    yield a, b
    b.stop()
    a.stop()


def test_a_call_on_one_server_is_visible_on_the_other(pair):
    a, b = pair
    a.client("s3").create_bucket(Bucket="shared-bucket")
    a.client("s3").put_object(Bucket="shared-bucket", Key="k/one.txt", Body=b"from a")
    assert b.client("s3").get_object(Bucket="shared-bucket", Key="k/one.txt")["Body"].read() == b"from a"
    b.client("s3").put_object(Bucket="shared-bucket", Key="k/two.txt", Body=b"from b")
    keys = [o["Key"] for o in a.client("s3").list_objects_v2(Bucket="shared-bucket")["Contents"]]
    assert keys == ["k/one.txt", "k/two.txt"]
    a.client("sagemaker").create_experiment(ExperimentName="shared-experiment")
    assert b.client("sagemaker").describe_experiment(ExperimentName="shared-experiment")[
        "ExperimentName"
    ] == ("shared-experiment")
    with pytest.raises(b.client("s3").exceptions.NoSuchBucket):  # errors too: the same store
        b.client("s3").list_objects_v2(Bucket="no-such-shared-bucket")


def test_both_servers_report_each_other_alive(pair):
    from sqlalchemy import create_engine, text

    a, b = pair
    engine = create_engine(a.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT detail FROM leases WHERE kind = 'server' AND expires_at > :now"),
            {"now": time.time()},
        ).all()
    engine.dispose()
    urls = sorted(__import__("json").loads(r.detail)["url"] for r in rows)
    assert urls == sorted([a.url, b.url])


def test_an_endpoint_created_on_one_server_answers_on_both(pair):
    a, b = pair
    a.client("s3").create_bucket(Bucket="shared-models")
    create_echo_endpoint(a, "shared-models", "shared-echo")
    desc = wait_endpoint(b, "shared-echo")
    assert desc["EndpointStatus"] == "InService", desc
    deadline = time.time() + 30
    answers = set()
    while time.time() < deadline and len(answers) < 2:
        try:
            answers.add(("a", invoke(a, "shared-echo")))
            answers.add(("b", invoke(b, "shared-echo")))
        except Exception:  # the non-owner follows the owner's addresses within a pass
            time.sleep(0.5)
    assert {server for server, _ in answers} == {"a", "b"}
    (pid_a,) = {answer.split(":")[1] for server, answer in answers if server == "a"}
    (pid_b,) = {answer.split(":")[1] for server, answer in answers if server == "b"}
    assert pid_a == pid_b  # one worker: both gateways reach the owner's instance
    assert all(answer.endswith(":3.0") for _, answer in answers)
    with pytest.raises(b.client("sagemaker-runtime").exceptions.ValidationError):
        invoke(b, "no-such-shared-endpoint")
    a.client("sagemaker").delete_endpoint(EndpointName="shared-echo")
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            invoke(b, "shared-echo")
        except Exception as exc:
            if "ValidationError" in str(exc) or "Could not find" in str(exc) or "not found" in str(exc):
                break
        time.sleep(0.5)
    else:
        pytest.fail("the deleted endpoint still answers on b")
