"""The lineage entities SageMaker creates by itself: artifacts keyed by their source URI (a job's image,
input channels and model; a model package and its model data), contexts for model package groups, and
the associations between them and the jobs' trial components."""

from __future__ import annotations

import uuid

from ..store.errors import AlreadyExists
from ..store.experiments import ExperimentStore
from ..store.resources import FieldFilter, ListQuery
from .state import utcnow

ARTIFACT, CONTEXT = "artifact", "context"
SYSTEM = {"IamIdentity": {"Arn": "arn:aws:iam::aws:role/SageMaker"}}


def _arn(region: str, account_id: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{kind}/{name.lower()}"


def ensure_artifact(
    resources, account_id: str, region: str, uri: str, artifact_type: str, name: str | None = None
) -> str:
    """The artifact with this source URI and type (created when there is none); its ARN."""
    fields = (FieldFilter.equals("_SourceUri", uri), FieldFilter.equals("ArtifactType", artifact_type))
    rows, _ = resources.list(account_id, region, ARTIFACT, ListQuery(fields=fields, max_results=1))
    if rows:
        return rows[0].arn
    key = uuid.uuid4().hex
    stamp = utcnow()
    artifact_arn = _arn(region, account_id, ARTIFACT, key)
    data = {
        "ArtifactArn": artifact_arn,
        "Source": {"SourceUri": uri},
        "ArtifactType": artifact_type,
        "CreationTime": stamp,
        "LastModifiedTime": stamp,
        "CreatedBy": SYSTEM,
        "LastModifiedBy": SYSTEM,
        "_SourceUri": uri,
    }
    if name:
        data["ArtifactName"] = name
    resources.create(account_id, region, ARTIFACT, key, artifact_arn, data)
    return artifact_arn


def ensure_context(resources, account_id: str, region: str, name: str, uri: str, context_type: str) -> str:
    context_arn = _arn(region, account_id, CONTEXT, name)
    stamp = utcnow()
    data = {
        "ContextName": name,
        "ContextArn": context_arn,
        "Source": {"SourceUri": uri},
        "ContextType": context_type,
        "CreationTime": stamp,
        "LastModifiedTime": stamp,
        "CreatedBy": SYSTEM,
        "LastModifiedBy": SYSTEM,
        "_SourceUri": uri,
    }
    try:
        resources.create(account_id, region, CONTEXT, name, context_arn, data)
    except AlreadyExists:
        pass
    return context_arn


#: resource type → lineage class (QueryLineage's LineageType, ListAssociations' SourceType/DestinationType)
LINEAGE_CLASSES = {
    "artifact": "Artifact",
    "action": "Action",
    "context": "Context",
    "experiment-trial-component": "TrialComponent",
    "experiment": "Experiment",
    "experiment-trial": "Trial",
}


def entity_kind(row) -> tuple[str | None, str | None]:
    """(lineage class, type) of a stored entity: the type is its ArtifactType/ActionType/ContextType, or
    the job kind of a job's trial component (``TrainingJob``)."""
    if row is None:
        return None, None
    data = row.data
    kind = (
        data.get("ArtifactType")
        or data.get("ActionType")
        or data.get("ContextType")
        or (data.get("Source") or {}).get("SourceType", "").replace("SageMaker", "", 1)
        or None
    )
    return LINEAGE_CLASSES.get(row.resource_type), kind


def ensure_action(resources, account_id: str, region: str, name: str, uri: str, action_type: str) -> str:
    action_arn = _arn(region, account_id, "action", name)
    stamp = utcnow()
    data = {
        "ActionName": name,
        "ActionArn": action_arn,
        "Source": {"SourceUri": uri},
        "ActionType": action_type,
        "Status": "Completed",
        "CreationTime": stamp,
        "LastModifiedTime": stamp,
        "CreatedBy": SYSTEM,
        "LastModifiedBy": SYSTEM,
        "_SourceUri": uri,
    }
    try:
        resources.create(account_id, region, "action", name, action_arn, data)
    except AlreadyExists:
        pass
    return action_arn


def associate(resources, account_id: str, region: str, source: str, destination: str, kind: str) -> None:
    ExperimentStore(resources.db).add_association(
        account_id,
        region,
        source,
        destination,
        kind,
        entity_kind(resources.get_by_arn(source)),
        entity_kind(resources.get_by_arn(destination)),
    )


def training_job_inputs(resources, account_id: str, region: str, job: dict, component_arn: str) -> None:
    """The job's image and input channels as artifacts that contributed to its trial component."""
    image = (job.get("AlgorithmSpecification") or {}).get("TrainingImage")
    if image:
        artifact = ensure_artifact(resources, account_id, region, image, "Image")
        associate(resources, account_id, region, artifact, component_arn, "ContributedTo")
    for channel in job.get("InputDataConfig") or []:
        uri = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        if uri:
            artifact = ensure_artifact(resources, account_id, region, uri, "DataSet", channel["ChannelName"])
            associate(resources, account_id, region, artifact, component_arn, "ContributedTo")


def training_job_model(resources, account_id: str, region: str, model_uri: str, component_arn: str) -> None:
    artifact = ensure_artifact(resources, account_id, region, model_uri, "Model")
    associate(resources, account_id, region, component_arn, artifact, "Produced")


def model_package(resources, account_id: str, region: str, package: dict) -> None:
    """A package's artifact (SourceUri = its ARN), its group's context, and its model data."""
    package_artifact = ensure_artifact(resources, account_id, region, package["ModelPackageArn"], "Model")
    group = package.get("ModelPackageGroupName")
    if group:
        group_arn = (
            package["ModelPackageArn"].rsplit("/", 2)[0].replace(":model-package/", ":model-package-group/")
        )
        name = f"{group[:40]}-{uuid.uuid5(uuid.NAMESPACE_URL, group_arn).hex[:8]}-aws-model-package-group"
        context = ensure_context(resources, account_id, region, name, group_arn, "ModelGroup")
        associate(resources, account_id, region, package_artifact, context, "ContributedTo")
    for container in (package.get("InferenceSpecification") or {}).get("Containers") or []:
        if container.get("ModelDataUrl"):
            data = ensure_artifact(resources, account_id, region, container["ModelDataUrl"], "ModelData")
            associate(resources, account_id, region, data, package_artifact, "ContributedTo")
        if container.get("Image"):
            image = ensure_artifact(resources, account_id, region, container["Image"], "Image")
            associate(resources, account_id, region, image, package_artifact, "ContributedTo")


def endpoint_deployed(
    resources, account_id: str, region: str, name: str, endpoint_arn: str, variants: list[dict]
) -> None:
    """An endpoint's context (ContextType ``Endpoint``, SourceUri = its ARN) and a ``ModelDeployment``
    action, linked both ways, as are the action and the deployed models' ``Model`` artifacts (model
    data); ``Model``/``Image`` → ContributedTo → action → AssociatedWith → endpoint context, the
    chain SageMaker records (so an ascendant walk from the endpoint reaches the training job that
    produced the model — the same artifact, keyed by its URI — and that job's data sets), and context →
    action → model, the walk the SDK's ``EndpointContext.models()`` / ``models_v2()`` make. An image is
    linked one way only: shared by every job and deployment using it, a link back would make the other
    deployments (and their jobs and data) ascendants of this endpoint."""
    context = ensure_context(
        resources, account_id, region, f"{name[:100]}-aws-endpoint", endpoint_arn, "Endpoint"
    )
    stamp = int(utcnow().timestamp() * 1000)
    action = ensure_action(
        resources,
        account_id,
        region,
        f"{name[:90]}-{stamp}-aws-model-deployment",
        endpoint_arn,
        "ModelDeployment",
    )
    associate(resources, account_id, region, action, context, "AssociatedWith")
    associate(resources, account_id, region, context, action, "AssociatedWith")
    for variant in variants:
        for container in variant.get("Containers") or []:
            if container.get("ModelDataUrl"):
                model = ensure_artifact(resources, account_id, region, container["ModelDataUrl"], "Model")
                associate(resources, account_id, region, model, action, "ContributedTo")
                associate(resources, account_id, region, action, model, "AssociatedWith")
            if container.get("Image"):  # one way only: an image is shared by many jobs and deployments
                image = ensure_artifact(resources, account_id, region, container["Image"], "Image")
                associate(resources, account_id, region, image, action, "ContributedTo")
