import copy
import os.path as osp

import pytest
import torch
from conftest import build_runner, tiny_vit_config
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer


class Recorder(Hook):
    """Remember the state the run starts from and the iterations it runs."""

    def __init__(self):
        self.iters = []
        self.start = None

    def before_train(self, runner):
        # Deep copies: optimizer state tensors are updated in place later.
        self.start = copy.deepcopy(
            dict(
                iter=runner.iter,
                optimizer=runner.optim_wrapper.state_dict(),
                schedulers=[s.state_dict() for s in runner.param_schedulers],
                loss=runner.message_hub.log_scalars.get('train/loss')))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters.append(runner.iter)


def run(config, work_dir, max_iters, resume=None, hooks=None):
    cfg = Config.fromfile(config)
    cfg.train_cfg.max_iters = max_iters
    if resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if hooks is not None:
        cfg.custom_hooks = hooks
    runner = build_runner(cfg, work_dir)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.train()
    return runner, recorder


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


def test_resume_continues_with_the_same_state(tmp_path, image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    run(config, tmp_path / 'work', max_iters=3)
    checkpoint = str(tmp_path / 'work' / 'iter_3.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(
        checkpoint) == []
    saved = torch.load(checkpoint, weights_only=True)

    runner, recorder = run(config, tmp_path / 'work', 5, resume=checkpoint)
    # Stopped after iteration 3 (0-based 2): resumes at iteration 4.
    assert recorder.start['iter'] == 3
    assert recorder.iters == [3, 4]
    assert_same(recorder.start['optimizer'], saved['optimizer'])
    assert_same(recorder.start['schedulers'], saved['param_schedulers'])
    loss = recorder.start['loss']
    assert isinstance(loss, HistoryBuffer) and len(loss.data[0]) == 3
    assert runner.iter == 5


def test_without_the_hook_mmengine_cannot_resume(tmp_path, image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    run(config, tmp_path / 'work', max_iters=3, hooks=[])
    checkpoint = osp.join(tmp_path, 'work', 'iter_3.pth')
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(checkpoint)
    assert 'builtins.getattr' in unsafe
    with pytest.raises(Exception, match='Weights only load failed'):
        run(config, tmp_path / 'work', 5, resume=checkpoint, hooks=[])
