"""``compile=True`` trains every shipped pre-training, probe, fine-tune and
demo config (CheckedRunner compiles the model's forward)."""
import glob
import json
import math
import os.path as osp
from typing import Callable

import pytest
import torch
import torch._inductor.config as inductor_config
from conftest import CONFIG_DIR, TINY_VIT, build_runner, tiny_demo_config
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch._dynamo.utils import counters

from mmkamim.engine.runners import CheckedRunner
from mmkamim.utils import keypoints_in_pipeline

PRETRAINING = sorted(
    osp.basename(path) for path in glob.glob(osp.join(CONFIG_DIR, '*.py')))
PROBES_AND_FINETUNES = sorted(
    osp.join('benchmarks', osp.basename(path))
    for path in glob.glob(osp.join(CONFIG_DIR, 'benchmarks', '*.py'))
    # The k-NN configs train nothing.
    if '-knn_' not in path)
# What sets a model's size, its input size and its data, not its graph:
# configs that differ only in these compile the same graph at another size.
SIZE_KEYS = {
    'arch', 'in_channels', 'num_classes', 'num_tokens', 'img_size',
    'init_cfg', 'num_patches', 'embed_dim', 'decoder_embed_dim',
    'decoder_depth', 'decoder_num_heads', 'out_indices'
}
# A 4-stage Swin of 32 dims; the first stage's second block shifts its
# windows.
TINY_SWIN = dict(embed_dims=32, depths=[2, 1, 1, 1], num_heads=[1, 2, 4, 8])


def graph_of(name: str) -> str:
    """The config's model and data preprocessor without ``SIZE_KEYS``."""

    def strip(item):
        if isinstance(item, dict):
            return {k: strip(v) for k, v in item.items() if k not in SIZE_KEYS}
        if isinstance(item, list):
            return [strip(v) for v in item]
        return item

    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    return json.dumps(
        strip([cfg.model.to_dict(),
               cfg.get('data_preprocessor', {})]), sort_keys=True,
        default=str)


def one_per_graph(names):
    """One ImageNet config of each graph (the others read their datasets
    from arrays, not files), with the configs it stands for."""
    groups = {}
    for name in names:
        groups.setdefault(graph_of(name), []).append(name)
    return {
        min(group, key=lambda name: ('_in1k' not in name, name)): group
        for group in groups.values()
    }


PRETRAINING_GRAPHS = one_per_graph(PRETRAINING)
BENCHMARK_GRAPHS = one_per_graph(PROBES_AND_FINETUNES)
# KAMIM on both weight paths: FAST on the device (the configs) and the
# KeypointDensity transform (--keypoints-in-pipeline).
CASES = [pytest.param(name, False, id=name) for name in PRETRAINING_GRAPHS
         ] + [
             pytest.param('kamim_vit-base_8xb256_in1k.py', True,
                          id='kamim_vit-base_8xb256_in1k.py-in-pipeline')
         ] + [pytest.param(name, False, id=name) for name in BENCHMARK_GRAPHS]


def test_the_cases_stand_for_every_config():
    covered = [
        name for groups in (PRETRAINING_GRAPHS, BENCHMARK_GRAPHS)
        for group in groups.values() for name in group
    ]
    assert sorted(covered) == sorted(PRETRAINING + PROBES_AND_FINETUNES)
    # Every algorithm and every probe and fine-tune mode has its own graph.
    assert len(PRETRAINING_GRAPHS) == 9 and len(BENCHMARK_GRAPHS) == 9


def shrunk(name: str, in_pipeline: bool, image_folder: str,
           photo_dataset: str, tmp_path) -> Config:
    """The config with a 2-block ViT (or a small Swin) that trains 4
    iterations of 2 images on the CPU in float32; a probe or fine-tune
    config reads a checkpoint of its own backbone from ``tmp_path``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    if in_pipeline:
        keypoints_in_pipeline(cfg)
    model = cfg.model
    swin = 'Swin' in model.backbone.type
    model.backbone.arch = TINY_SWIN if swin else TINY_VIT
    width = TINY_SWIN['embed_dims'] * 8 if swin else TINY_VIT['embed_dims']
    if model.backbone.type == 'LinearProbeViT':
        model.backbone.out_indices = 1
    if model.type == 'GridProbeClassifier':
        model.grid.update(blocks=[1, 2], lrs=[model.grid.headline_lr, 1e-2])
    if model.neck.type == 'MAEPretrainDecoder':
        model.neck.update(embed_dim=width, decoder_embed_dim=32,
                          decoder_depth=1, decoder_num_heads=2)
    elif 'in_channels' in model.neck:
        model.neck.in_channels = width
    classifier = model.type in ('ImageClassifier', 'ProbeClassifier',
                                'GridProbeClassifier')
    if classifier:
        model.head.update(in_channels=width, num_classes=18)
        if 'num_classes' in cfg.get('data_preprocessor', {}):
            cfg.data_preprocessor.num_classes = 18
        model.backbone.init_cfg.checkpoint = backbone_checkpoint(
            cfg, tmp_path / 'backbone.pth')
        dataset = dict(type='CustomDataset', data_root=photo_dataset,
                       data_prefix='train')
    else:
        dataset = dict(type='CustomDataset', data_root=image_folder,
                       with_label=False)
    cfg.train_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        pin_memory=False, sampler=cfg.train_dataloader.sampler,
        collate_fn=cfg.train_dataloader.get('collate_fn',
                                            dict(type='default_collate')),
        dataset=dict(pipeline=cfg.train_dataloader.dataset.pipeline,
                     **dataset))
    # The 8xb512 PixMIM configs' AmpOptimWrapper needs a GPU.
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'OptimWrapper'
        for key in ('dtype', 'loss_scale'):
            cfg.optim_wrapper.pop(key, None)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4)
    cfg.param_scheduler = [
        dict(type='ConstantLR', factor=1.0, by_epoch=False)
    ]
    for key in ('val', 'test'):
        for part in ('cfg', 'dataloader', 'evaluator'):
            cfg[f'{key}_{part}'] = None
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=100, by_epoch=False)
    cfg.log_processor = dict(by_epoch=False)
    cfg.randomness = dict(seed=0)
    return cfg


def backbone_checkpoint(cfg: Config, path) -> str:
    """A checkpoint that fills the (shrunk) backbone of ``cfg``, written
    once."""
    if path.exists():
        return str(path)
    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.pop('init_cfg')
    init_default_scope('mmpretrain')
    state = MODELS.build(backbone_cfg).state_dict()
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in state.items()}),
               path)
    return str(path)


class LossRecorder(Hook):
    """Each iteration's loss, and how many graphs dynamo had compiled by
    then."""

    def __init__(self):
        self.losses = []
        self.graphs = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append(float(outputs['loss'].detach()))
        self.graphs.append(counters['stats']['unique_graphs'])


@pytest.mark.slow
@pytest.mark.parametrize('name,in_pipeline', CASES)
def test_every_config_compiles_once_and_trains_as_eager(
        tmp_path, image_folder, photo_dataset, name, in_pipeline):
    compiled_and_eager(
        tmp_path, lambda: shrunk(name, in_pipeline, image_folder,
                                 photo_dataset, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize('name', [
    'simmim_vit-micro_1xb32_photos-96px.py',
    'kamim_vit-micro_1xb32_photos-96px.py',
    'pixmim_vit-micro_1xb32_photos-96px.py'
])
def test_demo_config_compiles_once_and_trains_as_eager(
        tmp_path, photo_dataset, name):
    # The demo KAMIM's weights come from the pipeline, NumPy arrays in the
    # data samples (on which dynamo failed when mmengine compiled
    # train_step). 2 epochs of 2 batches of 27: one shape.
    compiled_and_eager(tmp_path, lambda: Config.fromfile(tiny_demo_config(
        tmp_path, photo_dataset, name,
        'val_cfg = None\nval_dataloader = None\nval_evaluator = None\n'
        'train_cfg = dict(max_epochs=2)\n'
        "train_dataloader['batch_size'] = 27")))


def compiled_and_eager(tmp_path, config: Callable[[], Config]) -> None:
    """Train ``config()`` for 4 iterations eagerly, then compiled, and
    check the compiled run against the eager one."""
    torch._dynamo.reset()
    counters.clear()
    losses, graphs = {}, []
    # MAE's masks and drop path draw random numbers inside the compiled
    # forward; inductor's own generator would draw others than eager.
    with inductor_config.patch(fallback_random=True):
        for compiled in (False, True):
            cfg = config()
            cfg.compile = compiled
            runner = build_runner(cfg, tmp_path / f'compiled{compiled}',
                                  CheckedRunner)
            recorder = LossRecorder()
            runner.register_hook(recorder)
            runner.train()
            losses[compiled] = recorder.losses
            graphs = recorder.graphs
    assert len(losses[True]) == len(losses[False]) == 4
    # One graph, compiled at the first iteration and never again: no graph
    # break (docs/benchmarks.md says what removed the last ones) and no
    # recompilation (mmengine's compiled train_step recompiled at every
    # iteration on the data samples' file names and the logging).
    assert not counters['graph_break'], list(counters['graph_break'])
    assert graphs == [1] * 4
    # Inductor reorders float32 sums: the first loss is equal to 1e-4
    # relative; later ones compound the difference.
    assert losses[True][0] == pytest.approx(losses[False][0], rel=1e-4)
    assert all(math.isfinite(loss) for loss in losses[True])
