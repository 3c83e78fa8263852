"""Multi-process training on machines without CUDA."""
import gc
import os
import re
import subprocess
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> Config:
    """Let a ``--launcher pytorch`` or ``--launcher slurm`` run train on the
    CPU over gloo.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and fails
    without a GPU, and its default DDP wrapper passes
    ``device_ids=[LOCAL_RANK]``, which DDP rejects for CPU modules. On a
    machine without CUDA this starts the gloo process group (the Runner
    then skips ``init_dist``) and asks for a DDP wrapper without device ids:
    from torchrun's environment, or under ``srun`` from Slurm's
    (``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``; the address of
    the first node of ``SLURM_NODELIST`` and ``MASTER_PORT``, default 29500,
    as mmengine takes them). With CUDA, or without a launcher, ``cfg`` is
    returned unchanged.

    Args:
        cfg (Config): Config with ``launcher`` set.

    Returns:
        Config: ``cfg``, with ``model_wrapper_cfg.device_ids = None`` when
        the CPU path is taken.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return cfg
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(
            f'launcher={launcher!r} needs CUDA; on a machine without CUDA use '
            "launcher='pytorch' (tools/dist_train.sh) or 'slurm' "
            '(tools/slurm_train.sh)')
    if not dist.is_initialized():
        if launcher == 'slurm':
            _slurm_environment()
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
        kwargs = {} if timeout is None else dict(
            timeout=timedelta(seconds=timeout))
        dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
    return cfg


def _slurm_environment() -> None:
    """torch's ``env://`` variables from a Slurm task's."""
    try:
        rank, world = os.environ['SLURM_PROCID'], os.environ['SLURM_NTASKS']
        nodes = os.environ['SLURM_NODELIST']
    except KeyError as missing:
        raise ValueError(
            f'--launcher slurm: {missing.args[0]} is not set; start the '
            'tasks with srun (tools/slurm_train.sh)') from None
    os.environ.update(RANK=rank, WORLD_SIZE=world,
                      LOCAL_RANK=os.environ.get('SLURM_LOCALID', '0'))
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        # A single plain host name needs no expansion by scontrol.
        first = nodes if re.fullmatch(r'[\w.-]+', nodes) else \
            subprocess.check_output(
                ['scontrol', 'show', 'hostnames', nodes],
                text=True).split()[0]
        os.environ['MASTER_ADDR'] = first


@contextmanager
def process_group_closed_at_exit() -> Iterator[None]:
    """Destroy the default process group when the block ends, however it
    ends.

    mmengine never destroys it; a gloo process left to tear its group down
    during interpreter shutdown sometimes aborts there ("terminate called
    without an active exception", exit -6) after training has finished.
    DDP's reducer holds the group too, so the block must leave no runner
    behind (build and train it in a function); what is left in reference
    cycles is collected here first.
    """
    stop = None
    try:
        yield
    except SystemExit as exit_:
        # A run that stops on purpose (PreemptionHook): its traceback, which
        # keeps the runner alive, is not needed.
        stop = exit_.code
    finally:
        if dist.is_available() and dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()
    if stop is not None:
        raise SystemExit(stop)
