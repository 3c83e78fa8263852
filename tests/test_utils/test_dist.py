import os

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from mmkamim.utils import setup_cpu_distributed


def test_no_launcher_leaves_the_config_alone():
    cfg = Config(dict(launcher='none'))
    assert 'model_wrapper_cfg' not in setup_cpu_distributed(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_launchers_that_need_cuda_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="launcher='mpi' needs CUDA"):
        setup_cpu_distributed(Config(dict(launcher='mpi')))
    monkeypatch.delenv('SLURM_PROCID', raising=False)
    with pytest.raises(ValueError, match='SLURM_PROCID is not set; start '
                       'the tasks with srun'):
        setup_cpu_distributed(Config(dict(launcher='slurm')))


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_slurm_launcher_starts_gloo_from_slurm_s_environment(monkeypatch):
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE'):
        monkeypatch.delenv(key, raising=False)
    for key, value in dict(SLURM_PROCID='0', SLURM_NTASKS='1',
                           SLURM_LOCALID='0',
                           SLURM_NODELIST='localhost').items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv('MASTER_PORT', '29562')
    try:
        cfg = setup_cpu_distributed(Config(dict(launcher='slurm')))
        assert dist.is_initialized() and dist.get_world_size() == 1
        assert cfg.model_wrapper_cfg.device_ids is None
        assert os.environ['MASTER_ADDR'] == 'localhost'
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_pytorch_launcher_starts_gloo_without_device_ids(monkeypatch):
    for key, value in dict(
            MASTER_ADDR='127.0.0.1', MASTER_PORT='29561', RANK='0',
            WORLD_SIZE='1', LOCAL_RANK='0').items():
        monkeypatch.setenv(key, value)
    try:
        cfg = setup_cpu_distributed(Config(dict(launcher='pytorch')))
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert cfg.model_wrapper_cfg == dict(
            type='MMDistributedDataParallel', device_ids=None)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
