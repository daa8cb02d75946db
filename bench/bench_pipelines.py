"""Pipeline engine overhead: how long a step transition takes (previous step Succeeded → the next step's
job created) and what an execution of N trivial processing steps costs against running the same N jobs
directly (CreateProcessingJob → Completed, one after the other, the client polling every 50 ms).

    python -m bench.bench_pipelines [--steps 5] [--repeat 2]

The steps form a chain (each ``DependsOn`` the previous one), so the execution's time is the jobs' own
time plus one transition per step; SageMaker itself takes tens of seconds per transition.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from .bench_processing import ROLE, TRIVIAL, job_request, run_job
from .common import median, running_server, table


def _step(name: str, bucket: str, previous: str | None) -> dict:
    step = {
        "Name": name,
        "Type": "Processing",
        "Arguments": job_request(bucket, f"s3://{bucket}/pipeline-out/{name}"),
    }
    if previous:
        step["DependsOn"] = [previous]
    return step


def run_pipeline(server, bucket: str, pipeline: str) -> tuple[float, list[float]]:
    """(seconds from StartPipelineExecution to Succeeded seen by the client, the transitions)."""
    sm = server.client("sagemaker")
    start = time.perf_counter()
    arn = sm.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    while True:
        status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        if status in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if status != "Succeeded":
        raise RuntimeError(f"{arn}: {status}")
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")[
        "PipelineExecutionSteps"
    ]
    jobs = [
        sm.describe_processing_job(ProcessingJobName=s["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1])
        for s in steps
    ]
    transitions = [
        (nxt["CreationTime"] - prev["ProcessingEndTime"]).total_seconds() for prev, nxt in zip(jobs, jobs[1:])
    ]
    return elapsed, transitions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    with running_server() as server:
        s3, sm = server.client("s3"), server.client("sagemaker")
        bucket = "bench-pipelines"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="data/x.csv", Body=b"a,b\n")
        s3.put_object(Bucket=bucket, Key="code/script.py", Body=TRIVIAL.encode())
        names = [f"S{i}" for i in range(args.steps)]
        steps = [_step(n, bucket, names[i - 1] if i else None) for i, n in enumerate(names)]
        pipeline = f"bench-{uuid.uuid4().hex[:8]}"
        sm.create_pipeline(
            PipelineName=pipeline,
            RoleArn=ROLE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": steps}),
        )
        run_job(server, bucket)  # warm-up
        direct, piped, transitions = [], [], []
        for _ in range(args.repeat):  # interleaved: load from elsewhere hits both alike
            direct.append(sum(run_job(server, bucket) for _ in range(args.steps)))
            elapsed, moves = run_pipeline(server, bucket, pipeline)
            piped.append(elapsed)
            transitions += moves
    d, p = median(direct), median(piped)
    print(
        table(
            f"Pipeline execution of {args.steps} chained trivial processing steps (median of {args.repeat})",
            ["workload", "the jobs run directly, one after another", "one pipeline execution", "overhead"],
            [[f"{args.steps} processing steps", f"{d:.2f} s", f"{p:.2f} s", f"+{p - d:.2f} s"]],
        )
    )
    print()
    print(
        table(
            "Step transition: previous step's job ended → next step's job created",
            ["transitions", "median", "max"],
            [[len(transitions), f"{median(transitions):.3f} s", f"{max(transitions):.3f} s"]],
        )
    )


if __name__ == "__main__":
    main()
