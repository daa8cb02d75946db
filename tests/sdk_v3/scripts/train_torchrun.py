"""ModelTrainer with Compute(instance_count=2) and the Torchrun distributed driver: torchrun on each host
(algo-1, algo-2), one process per host, an all_reduce across both."""

from sagemaker.core.resources import TrainingJob
from sagemaker.core.training.configs import SourceCode
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute
from sagemaker.train.distributed import Torchrun

from common import PYTORCH_IMAGE, ROLE, result, show_logs, write

show_logs()
write(
    "src/train.py",
    """
import os
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
print(f"rank {rank} of {world} on {os.environ.get('SM_CURRENT_HOST')}: sum {total.item()}", flush=True)
dist.destroy_process_group()
""",
)
trainer = ModelTrainer(
    training_image=PYTORCH_IMAGE,
    role=ROLE,
    source_code=SourceCode(source_dir="src", entry_script="train.py"),
    compute=Compute(instance_type="ml.m5.large", instance_count=2),
    distributed=Torchrun(process_count_per_node=1),
    base_job_name="v3-torchrun",
)
trainer.train(wait=True, logs=True)
job = TrainingJob.get(trainer._latest_training_job.training_job_name)
result(status=job.training_job_status, instances=job.resource_config.instance_count)
