"""A grid of linear probes trains every head as a separate probe run with
its setting would, reports every head, and survives a diverging head."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, build_runner, tiny_demo_config
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.models import GridProbeClassifier

PROBE = 'vit-micro-p16_1xb32-linear_photos-96px.py'
GRID = 'vit-micro-p16_1xb32-linear-grid_photos-96px.py'
# The demo's 2-block, 32-dim ViT probed at block 1 (tiny_demo_config).
TINY_GRID = """
model.update(grid=dict(blocks=[1, 2], norms=['none', 'tokens'],
                       lrs=[1e-3, 5e-3, 2e-2]))
"""


def grid_config(tmp_path, photo_dataset, extra=''):
    return tiny_demo_config(tmp_path, photo_dataset, GRID, TINY_GRID + extra)


def build(tmp_path, photo_dataset, checkpoint, extra='', work='work'):
    cfg = Config.fromfile(grid_config(tmp_path, photo_dataset, extra))
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    return build_runner(cfg, tmp_path / work)


def head_weights(model, index=None):
    """A head's trainable weights (a single probe's if index is None)."""
    if index is None:
        modules = [model.neck, model.head]
    else:
        modules = [model.necks[index], model.heads[index]]
    return torch.cat([p.detach().flatten() for m in modules
                      for p in m.parameters() if p.requires_grad])


def relative_difference(a, b) -> float:
    return float((a - b).abs().max() / a.abs().max())


def tiny_grid_model(**grid):
    init_default_scope('mmpretrain')
    arch = dict(embed_dims=32, num_layers=2, num_heads=2,
                feedforward_channels=64)
    return MODELS.build(dict(
        type='GridProbeClassifier',
        backbone=dict(type='LinearProbeViT', arch=arch, img_size=96,
                      out_indices=0),
        head=dict(type='LinearClsHead', num_classes=18, in_channels=32),
        grid=dict(dict(blocks=[1, 2], norms=['none'], lrs=[1e-3],
                       headline_lr=1e-3), **grid)))


@pytest.mark.parametrize('grid, message', [
    (dict(blocks=[1, 3]), r'model\.grid\.blocks \[3\]: this ViT has blocks '
     r'1 to 2'),
    (dict(norms=[]), r'model\.grid\.norms is empty'),
    (dict(norms=['none', 'batch']), r"model\.grid\.norms \['batch'\]: each "
     r"must be one of \['none', 'tokens', 'channels'\]"),
    (dict(lrs=[1e-3, 1e-3]), r'model\.grid\.lrs lists \[0\.001\] more than '
     r'once'),
    (dict(lrs=[0.0]), r'model\.grid\.lrs \[0\.0\]: learning rates must be '
     r'> 0'),
    (dict(headline_lr=None), r'model\.grid\.headline_lr is not set'),
    (dict(layers=[1]), r"model\.grid has unknown keys \['layers'\]"),
])
def test_a_grid_that_cannot_be_trained_is_refused(grid, message):
    with pytest.raises(ValueError, match=message):
        tiny_grid_model(**grid)


def test_the_config_s_own_setting_is_always_a_head():
    model = tiny_grid_model(blocks=[2], lrs=[2e-3])
    assert model.names == ['b2_none_lr0.002', 'b1_none_lr0.001']
    assert model.headline == 1
    assert isinstance(model, GridProbeClassifier)


def test_every_head_is_reported_and_save_best_follows_the_best(
        tmp_path, photo_dataset, kamim_checkpoint):
    runner = build(tmp_path, photo_dataset, kamim_checkpoint,
                   "default_hooks = dict(checkpoint=dict("
                   "save_best='grid/best/top1', rule='greater'))")
    seen = []
    original = runner.val_evaluator.evaluate

    def record(size):
        metrics = original(size)
        seen.append(metrics)
        return metrics

    runner.val_evaluator.evaluate = record
    runner.train()
    metrics = seen[-1]
    model = runner.model
    assert len(model.names) == 12 + 0  # the headline b1_none_lr0.005 is in
    for name in model.names:
        assert 0 <= metrics[f'grid/{name}/top1'] <= 100
        assert metrics[f'grid/{name}/top5'] >= metrics[f'grid/{name}/top1']
    headline = model.names[model.headline]
    assert headline == 'b1_none_lr0.005'
    assert metrics['accuracy/top1'] == pytest.approx(
        metrics[f'grid/{headline}/top1'])
    assert metrics['grid/best/top1'] == max(
        metrics[f'grid/{n}/top1'] for n in model.names)
    work = tmp_path / 'work'
    assert [p.name for p in work.glob('best_grid_best_top1_*.pth')]
    report = json.loads((work / 'grid.json').read_text())
    assert report['headline'] == headline
    assert len(report['heads']) == 12
    assert (work / 'grid.png').stat().st_size > 0
    log = next(work.glob('*/*.log')).read_text()
    assert 'top-1 (%), norm tokens:' in log and '| block | lr 0.001 |' in log


def test_a_diverging_head_is_frozen_and_the_others_go_on(
        tmp_path, photo_dataset, kamim_checkpoint):
    """A learning rate that overflows float32 (fused AdamW, as our runner
    steps it) for one head: it is frozen at its last finite weights and
    logged; every other head ends as in the grid without it."""
    from mmkamim.engine.runners import CheckedRunner
    extra = "optim_wrapper = dict(optimizer=dict(fused=True))\n"

    def train(lrs, work):
        cfg = Config.fromfile(grid_config(
            tmp_path, photo_dataset, extra +
            f"model['grid']['lrs'] = {lrs!r}"))
        cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
        runner = build_runner(cfg, tmp_path / work,
                              runner_class=CheckedRunner)
        runner.train()
        return runner

    healthy = train([1e-3, 5e-3], 'healthy')
    runner = train([1e-3, 5e-3, 1e45], 'diverging')
    model = runner.model
    bad = [i for i, s in enumerate(model.settings) if s.lr == 1e45]
    assert bad and all(bool(model.diverged[i]) for i in bad)
    assert int(model.diverged.sum()) == len(bad)
    for i in bad:
        assert torch.isfinite(head_weights(model, i)).all()
    for i, setting in enumerate(model.settings):
        if i in bad:
            continue
        j = healthy.model.settings.index(setting)
        assert torch.equal(head_weights(model, i),
                           head_weights(healthy.model, j)), setting.name
    log = next((tmp_path / 'diverging').glob('*/*.log')).read_text()
    assert 'grid head b1_none_lr1e+45 diverged' in log
    assert 'heads_diverged: 4.0000' in log
    # The checkpoints passed the finite-state check before every save.
    assert (tmp_path / 'diverging' / 'epoch_2.pth').exists()


@pytest.mark.slow
def test_heads_train_as_separate_probe_runs(tmp_path, photo_dataset,
                                           kamim_checkpoint):
    """280 iterations with warm-up and cosine schedules, per-head
    clipping, MixUp and CutMix: three heads of different block, norm and
    learning rate end with the weights of separate probe runs with their
    settings (same seed and data order)."""
    schedule = """
train_dataloader.update(batch_size=4)
train_cfg = dict(max_epochs=20, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=18, eta_min=1e-5, by_epoch=True,
         begin=2, end=20, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=20, save_best=None))
"""
    grid = build(tmp_path, photo_dataset, kamim_checkpoint, schedule,
                 'grid')
    grid.train()
    cases = [('b1_none_lr0.001', 0, None, 1e-3),
             ('b2_tokens_lr0.005', 1, 'tokens', 5e-3),
             ('b2_none_lr0.02', 1, None, 2e-2)]
    for name, index, norm, lr in cases:
        neck = ("model.update(neck=dict(_delete_=True, type='LayerNormNeck', "
                "in_channels=32, num_tokens=36))\n" if norm else '')
        config = tiny_demo_config(
            tmp_path, photo_dataset, PROBE, schedule + neck +
            f"model['backbone']['out_indices'] = {index}\n"
            f"optim_wrapper = dict(optimizer=dict(lr={lr}))")
        cfg = Config.fromfile(config)
        cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
        single = build_runner(cfg, tmp_path / name)
        single.train()
        head = grid.model.names.index(name)
        assert relative_difference(
            head_weights(single.model),
            head_weights(grid.model, head)) <= 1e-6, name


def test_resume_mid_epoch_ends_as_the_straight_run(tmp_path, photo_dataset,
                                                  kamim_checkpoint):
    every_iteration = """
train_dataloader.update(batch_size=8)
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=False,
                                     max_keep_ckpts=-1, save_best=None))
"""
    straight = build(tmp_path, photo_dataset, kamim_checkpoint,
                     every_iteration, 'straight')
    straight.train()
    saved = torch.load(tmp_path / 'straight' / 'iter_10.pth',
                       weights_only=True)
    assert 'diverged' in saved['state_dict']  # frozen heads stay frozen
    cfg = Config.fromfile(grid_config(tmp_path, photo_dataset,
                                      every_iteration))
    cfg.model.backbone.init_cfg.checkpoint = kamim_checkpoint
    cfg.resume, cfg.load_from = True, str(tmp_path / 'straight' /
                                          'iter_10.pth')
    resumed = build_runner(cfg, tmp_path / 'resumed')
    resumed.train()
    for i in range(len(straight.model.settings)):
        assert relative_difference(head_weights(straight.model, i),
                                   head_weights(resumed.model, i)) <= 1e-6


def test_a_test_run_reports_every_head(tmp_path, photo_dataset,
                                       kamim_checkpoint):
    trained = build(tmp_path, photo_dataset, kamim_checkpoint)
    trained.train()
    cfg = Config.fromfile(grid_config(tmp_path, photo_dataset))
    cfg.load_from = str(tmp_path / 'work' / 'epoch_2.pth')
    tester = build_runner(cfg, tmp_path / 'test')
    metrics = tester.test()
    assert metrics['accuracy/top1'] == pytest.approx(
        metrics['grid/b1_none_lr0.005/top1'])
    assert json.loads((tmp_path / 'test' / 'grid.json').read_text())[
        'headline'] == 'b1_none_lr0.005'
    log = next((tmp_path / 'test').glob('*/*.log')).read_text()
    assert 'grid probe, 12 heads' in log


def test_train_py_refuses_float16_for_a_grid(tmp_path, photo_dataset):
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
         grid_config(tmp_path, photo_dataset), '--work-dir',
         str(tmp_path / 'work'), '--amp', '--amp-dtype', 'float16'],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        'error: --amp-dtype float16: a grid probe trains in float32 or '
        'bfloat16')
