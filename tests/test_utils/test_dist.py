import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from mmkamim.utils import setup_cpu_distributed


def test_no_launcher_leaves_the_config_alone():
    cfg = Config(dict(launcher='none'))
    assert 'model_wrapper_cfg' not in setup_cpu_distributed(cfg)


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_launchers_that_need_cuda_are_refused():
    with pytest.raises(ValueError, match="'slurm'"):
        setup_cpu_distributed(Config(dict(launcher='slurm')))


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
