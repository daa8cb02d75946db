"""How legacy-0.1-metadata.sql was made: the pre-Alembic server (commit 55f0945, PYTHONPATH=<its src>)
creates a few resources of each kind through the APIs; its metadata.db is then dumped as SQL (the
throwaway key pair in the credentials row was then replaced by a placeholder).

    PYTHONPATH=<old checkout>/src python make_legacy.py <out dir>
"""

import json
import sqlite3
import sys
from pathlib import Path

from sagestack.local_server import ServerProcess

out = Path(sys.argv[1])
srv = ServerProcess(out / "data").start()
try:
    s3, sm, iam = srv.client("s3"), srv.client("sagemaker"), srv.client("iam")
    aas, logs = srv.client("application-autoscaling"), srv.client("logs")
    s3.create_bucket(Bucket="legacy-bucket")
    s3.put_object(Bucket="legacy-bucket", Key="data/a.csv", Body=b"1,2\n")
    iam.create_role(
        RoleName="legacy-team-role",
        Path="/team/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    iam.create_role(
        RoleName="legacy-root-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    role = "arn:aws:iam::000000000000:role/SageStackExecutionRole"
    sm.create_model(
        ModelName="legacy-model",
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": image, "ModelDataUrl": "s3://legacy-bucket/missing/model.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="legacy-config",
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": "legacy-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
            for v in ("A", "B")
        ],
    )
    sm.create_endpoint(EndpointName="legacy-endpoint", EndpointConfigName="legacy-config")
    dim = "sagemaker:variant:DesiredInstanceCount"
    for v in ("A", "B"):
        aas.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/legacy-endpoint/variant/{v}",
            ScalableDimension=dim,
            MinCapacity=1,
            MaxCapacity=3,
        )
    aas.put_scaling_policy(
        PolicyName="legacy-step",
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/legacy-endpoint/variant/A",
        ScalableDimension=dim,
        PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
    )
    logs.create_log_group(logGroupName="/legacy/group")
    print(aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"])
    print(sm.describe_endpoint(EndpointName="legacy-endpoint")["EndpointStatus"])
finally:
    srv.stop()
con = sqlite3.connect(out / "data" / "metadata.db")
(out / "legacy.sql").write_text("\n".join(con.iterdump()) + "\n")
