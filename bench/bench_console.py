"""The web console: time to first render, server side, on a big store.

Usage: ``python -m bench.bench_console [--jobs 10000] [--points 100000]``.

Starts ``sagestack serve`` on a temp data dir, runs one real (tiny) training job, stops the server and
clones that job's record in the store until it holds ``--jobs`` training jobs, restarts, puts
``--points`` CloudWatch points on the job's metric, then measures over HTTP on localhost (median of 5):

* training-jobs list: the page (GET /_sagestack/console/) + its first call (ListTrainingJobs, 50 newest),
  and the same with a name filter (NameContains);
* a job's page: the page + DescribeTrainingJob + ListMetrics + GetMetricData over the job's lifetime
  (the 100,000 points aggregated to the chart's period);

each against a baseline measured in the same run: the same operations over boto3 (signed, through the
gateway). Also the bytes of each answer and of every static file the page loads (aim: none over 1 MB,
≤ 300 ms server time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import time
import urllib.request

from .common import median, running_server, table, tar_gz

TRAIN = b"import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'm.txt'), 'w').write('ok')\nprint('loss: 0.5')\n"
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ASSETS = (
    "static/console.css",
    "static/vendor/uplot/uPlot.min.css",
    "static/vendor/uplot/uPlot.iife.min.js",
    "static/js/main.js",
    "static/js/api.js",
    "static/js/ui.js",
    "static/js/charts.js",
    "static/js/pages/jobs.js",
    "static/js/pages/s3.js",
    "static/js/pages/pipelines.js",
    "static/js/pages/models.js",
    "static/js/pages/experiments.js",
    "static/js/pages/logs.js",
)


def _one_job(server) -> str:
    sm, s3 = server.client("sagemaker"), server.client("s3")
    s3.create_bucket(Bucket="bench-console")
    s3.put_object(Bucket="bench-console", Key="code/src.tar.gz", Body=tar_gz({"train.py": TRAIN}))
    name = "bench-console-0"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss: ([0-9.]+)"}],
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bench-console/out"},
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://bench-console/code/src.tar.gz"',
        },
    )
    deadline = time.time() + 180
    while sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress":
        if time.time() > deadline:
            raise RuntimeError("the template training job did not finish")
        time.sleep(0.5)
    return name


def _clone(server, name: str, count: int) -> None:
    """``count - 1`` copies of the job's record, straight into the store (the server is stopped)."""
    from sagestack.settings import Settings
    from sagestack.store.db import Database
    from sagestack.store.resources import ResourceStore, dumps, resources

    db = Database(Settings.from_env(data_dir=server.data_dir).db_url)
    try:
        with db.connect() as conn:
            row = dict(conn.execute(resources.select().where(resources.c.name == name)).mappings().one())
        template = ResourceStore(db).get(row["account_id"], row["region"], row["resource_type"], name).data
        rows = []
        base = row["created_at"] - count
        for i in range(1, count):
            clone = f"bench-console-{i}"
            data = dict(template)
            data["TrainingJobName"] = clone
            data["TrainingJobArn"] = template["TrainingJobArn"].rsplit("/", 1)[0] + "/" + clone
            created = base + i * 0.5
            data["CreationTime"] = dt.datetime.fromtimestamp(created, dt.UTC)
            rows.append(
                dict(
                    {k: v for k, v in row.items() if k != "id"},
                    name=clone,
                    arn=data["TrainingJobArn"],
                    created_at=created,
                    modified_at=created,
                    data=dumps(data),
                )
            )
        with db.begin() as conn:
            for offset in range(0, len(rows), 2000):
                conn.execute(resources.insert(), rows[offset : offset + 2000])
    finally:
        db.dispose()


class Browser:
    def __init__(self, server):
        self.base = server.url + "/_sagestack/console/"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        key, secret = server.credentials()
        self.csrf = json.loads(
            self.post("session", {"accessKeyId": key, "secretAccessKey": secret}, csrf=False)
        )["csrfToken"]

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=60) as resp:
            return resp.read()

    def post(self, path: str, body: dict, csrf: bool = True) -> bytes:
        headers = {"content-type": "application/json"}
        if csrf:
            headers["x-sagestack-csrf"] = self.csrf
        request = urllib.request.Request(self.base + path, json.dumps(body).encode(), headers, method="POST")
        with self.opener.open(request, timeout=60) as resp:
            return resp.read()


def _timed(fn, repeat: int = 5) -> tuple[float, int]:
    samples, size = [], 0
    fn()  # warm
    for _ in range(repeat):
        start = time.perf_counter()
        size = fn()
        samples.append(time.perf_counter() - start)
    return median(samples) * 1000, size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--points", type=int, default=100000)
    args = parser.parse_args(argv)
    with running_server() as server:
        name = _one_job(server)
        server.stop()
        _clone(server, name, args.jobs)
        server.start()
        sm, cw = server.client("sagemaker"), server.client("cloudwatch")
        desc = sm.describe_training_job(TrainingJobName=name)
        host = [{"Name": "Host", "Value": f"{name}/algo-1"}]
        now = time.time()
        span = max(1, args.points // 100)  # 100 points a second over the last `span` seconds
        for offset in range(0, args.points, 1000):
            cw.put_metric_data(
                Namespace="/aws/sagemaker/TrainingJobs",
                MetricData=[
                    {
                        "MetricName": "loss",
                        "Dimensions": host,
                        "Timestamp": now - span + (i / 100.0),
                        "Value": 1.0 / (1 + i),
                        "StorageResolution": 1,
                    }
                    for i in range(offset, min(offset + 1000, args.points))
                ],
            )
        browser = Browser(server)
        list_params = {"MaxResults": 50, "SortBy": "CreationTime", "SortOrder": "Descending"}
        filtered = dict(list_params, NameContains="console-99")
        start = desc["CreationTime"].timestamp() - span - 60
        end = time.time() + 60
        period = 5 if (end - start) / 600 <= 5 else 60
        metric_params = {
            "StartTime": start,
            "EndTime": end,
            "MetricDataQueries": [
                {
                    "Id": "m0",
                    "Label": "loss",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "/aws/sagemaker/TrainingJobs",
                            "MetricName": "loss",
                            "Dimensions": host,
                        },
                        "Period": period,
                        "Stat": "Average",
                    },
                }
            ],
        }
        count = len(
            sm.list_training_jobs(MaxResults=100, NameContains="bench-console-1")["TrainingJobSummaries"]
        )
        assert count == 100, count

        def console_list(params):
            def run():
                return len(browser.get("")) + len(browser.post("api/sagemaker/ListTrainingJobs", params))

            return run

        def boto_list(params):
            return lambda: len(json.dumps(sm.list_training_jobs(**params), default=str))

        def console_job():
            size = len(browser.get(""))
            size += len(browser.post("api/sagemaker/DescribeTrainingJob", {"TrainingJobName": name}))
            size += len(
                browser.post(
                    "api/cloudwatch/ListMetrics",
                    {"Namespace": "/aws/sagemaker/TrainingJobs", "Dimensions": host},
                )
            )
            answer = browser.post("api/cloudwatch/GetMetricData", metric_params)
            return size + len(answer)

        def boto_job():
            size = len(json.dumps(sm.describe_training_job(TrainingJobName=name), default=str))
            size += len(
                json.dumps(
                    cw.list_metrics(Namespace="/aws/sagemaker/TrainingJobs", Dimensions=host), default=str
                )
            )
            return size + len(json.dumps(cw.get_metric_data(**metric_params), default=str))

        rows = []
        for label, console, baseline in (
            (f"training-jobs list ({args.jobs} jobs)", console_list(list_params), boto_list(list_params)),
            ("… filtered by name", console_list(filtered), boto_list(filtered)),
            (f"job page ({args.points} metric points)", console_job, boto_job),
        ):
            ms, size = _timed(console)
            base_ms, _ = _timed(baseline)
            rows.append([label, f"{ms:.1f}", f"{base_ms:.1f}", f"{ms / base_ms:.2f}", f"{size / 1024:.1f}"])
        print(
            table(
                "console: time to first render (server, median of 5)",
                ["page", "console ms", "boto3 ms", "ratio", "KiB"],
                rows,
            )
        )
        assets = [(path, len(browser.get(path))) for path in ASSETS]
        total = sum(size for _, size in assets) + len(browser.get(""))
        print()
        print(
            table(
                "console: static files",
                ["file", "KiB"],
                [[path, f"{size / 1024:.1f}"] for path, size in assets]
                + [["all (with the page)", f"{total / 1024:.1f}"]],
            )
        )
        points = json.loads(browser.post("api/cloudwatch/GetMetricData", metric_params))["MetricDataResults"][
            0
        ]
        print(f"\nchart points after aggregation (period {period} s): {len(points['Values'])}")


if __name__ == "__main__":
    main()
