"""Shared fixtures: real photos shipped by scikit-image, and small runs."""
import contextlib
import importlib.util
import io
import itertools
import os
import os.path as osp
import random
import runpy
import sys
from typing import List
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from hypothesis import settings as hypothesis_settings

from mmkamim.datasets import sample_photos
from mmkamim.datasets.sample_photos import PHOTO_NAMES, load_photo

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Property tests draw the same examples on every run, so a run's verdict
# does not depend on luck; HYPOTHESIS_PROFILE=randomized draws new ones on
# purpose (to look for failures), and a failure it finds prints its example.
hypothesis_settings.register_profile('derandomized', derandomize=True,
                                     database=None)
hypothesis_settings.register_profile('randomized', derandomize=False)
hypothesis_settings.load_profile(
    os.environ.get('HYPOTHESIS_PROFILE', 'derandomized'))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs')

# The tests' ViT: 2 blocks of 32 dimensions, 2 heads.
TINY_VIT = dict(embed_dims=32, num_layers=2, num_heads=2,
                feedforward_channels=64)
# The same as config text that replaces a config's arch.
TINY_ARCH = f'dict(_delete_=True, **{TINY_VIT!r})'


def random_resized_crops(count: int, size: int = 192,
                         seed: int = 0) -> List[np.ndarray]:
    """BGR uint8 crops of the photos, as a pre-training pipeline makes."""
    return sample_photos.photo_crops(count, size, seed, side_range=(0.4, 1.0))


@pytest.fixture(autouse=True)
def seeded_global_generators():
    """Every test starts from the same global random state, whatever ran
    before it (tests that draw random numbers seed their own generators as
    well; this keeps a forgotten one from depending on test order)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def own_loggers_and_message_hubs():
    """Loggers, message hubs and visualizers a test creates end with it
    (their log files closed), so the next test cannot write into them."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.visualization import Visualizer
    managers = (MessageHub, MMLogger, Visualizer)
    before = {m: set(m._instance_dict) for m in managers}
    yield
    for manager in managers:
        for name in set(manager._instance_dict) - before[manager]:
            instance = manager._instance_dict.pop(name)
            for handler in getattr(instance, 'handlers', []):
                handler.close()


_RUN_NUMBERS = itertools.count()


def build_runner(cfg, work_dir=None, runner_class=None):
    """``Runner.from_cfg`` (or ``runner_class.from_cfg``) with a name no
    other run of the test session has.

    mmengine names a run (its logger, message hub and visualizer) after the
    config file and the second it started: two runs of one config started
    within a second would share a logger and write into each other's logs.

    Args:
        cfg (Config): The config; its ``work_dir`` is set when given.
        work_dir (str or Path, optional): Work dir of the run.
        runner_class (type, optional): A ``Runner`` subclass.

    Returns:
        Runner: The built runner.
    """
    from mmengine.runner import Runner
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    parent, leaf = osp.split(osp.abspath(cfg.work_dir))
    cfg.experiment_name = (f'{osp.basename(parent)}-{leaf}-'
                           f'{next(_RUN_NUMBERS)}')
    return (runner_class or Runner).from_cfg(cfg)


def tool_error_line(tool: str, *args) -> str:
    """The line a tool stops with (``sys.exit('error: ...')``, or the last
    line it writes to stderr before ``sys.exit(1)``; no traceback), its
    ``__main__`` run in this process: a fresh Python costs seconds of
    imports. One test per tool runs it as a process.

    Args:
        tool (str): Path of the tool's script.
        *args: Its command-line arguments.

    Returns:
        str: The line it exits with.
    """
    stderr = io.StringIO()
    with mock.patch.object(sys, 'argv', [tool, *map(str, args)]), \
            contextlib.redirect_stderr(stderr), \
            pytest.raises(SystemExit) as stop:
        runpy.run_path(tool, run_name='__main__')
    if isinstance(stop.value.code, str):
        return stop.value.code
    assert stop.value.code == 1, stop.value.code
    assert 'Traceback' not in stderr.getvalue()
    return stderr.getvalue().strip().splitlines()[-1]


def config_path(folder, stem: str):
    """A config file name in ``folder`` that no earlier call took."""
    path = folder / f'{stem}.py'
    for number in itertools.count(1):
        if not path.exists():
            return path
        path = folder / f'{stem}_{number}.py'


@pytest.fixture(scope='session')
def photo_crops() -> List[np.ndarray]:
    """Two 192 px crops of every photo."""
    return random_resized_crops(2 * len(PHOTO_NAMES))


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory) -> str:
    """An unlabeled folder of 8 photos (240 px short side) as PNG files."""
    root = tmp_path_factory.mktemp('images')
    for name in PHOTO_NAMES[:8]:
        img = load_photo(name)
        scale = 240 / min(img.shape[:2])
        img = cv2.resize(img, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(root / f'{name}.png'), img)
    return str(root)


def tiny_vit_config(tmp_path, image_folder: str, base: str,
                    extra: str = '') -> str:
    """Write a config that shrinks a shipped ViT config for CPU runs.

    Args:
        tmp_path: Folder for the config file.
        image_folder (str): Unlabeled images for ``CustomDataset``.
        base (str): Shipped config file name under ``configs/``.
        extra (str): More config lines.

    Returns:
        str: Path of the written config.
    """
    path = config_path(tmp_path, f'tiny_{osp.splitext(base)[0]}')
    path.write_text(f"""
_base_ = [{osp.join(CONFIG_DIR, base)!r}]
model = dict(backbone=dict(arch={TINY_ARCH}), neck=dict(in_channels=32))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(_delete_=True, type='CustomDataset',
                 data_root={image_folder!r}, with_label=False,
                 pipeline={{{{_base_.train_pipeline}}}}))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=3)
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False,
                        begin=0, end=4)]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=3, by_epoch=False))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
{extra}
""")
    return str(path)


@pytest.fixture(scope='session')
def photo_dataset(tmp_path_factory) -> str:
    """The embedded labelled dataset, 3 training / 2 validation images per
    class (18 classes)."""
    from mmkamim.datasets.sample_photos import make_photo_dataset
    root = str(tmp_path_factory.mktemp('photos'))
    make_photo_dataset(root, train_per_class=3, val_per_class=2)
    return root




def tiny_demo_config(tmp_path, photo_dataset: str, base: str,
                     extra: str = '') -> str:
    """Write a 2-block, 32-dim variant of a ``configs/demo`` config that
    trains 2 epochs on ``photo_dataset`` without worker processes (a
    pre-training config evaluates k-NN after the last)."""
    path = config_path(tmp_path,
                       f'tiny_{osp.splitext(osp.basename(base))[0]}')
    is_probe = 'linear' in base or '-knn_' in base  # both read a probe
    if is_probe:
        model = (f"model = dict(backbone=dict(arch={TINY_ARCH}, "
                 "out_indices=0), head=dict(in_channels=32))")
    elif 'pixmim' in base:
        model = (f"model = dict(backbone=dict(arch={TINY_ARCH}), "
                 "neck=dict(embed_dim=32, decoder_embed_dim=32, "
                 "decoder_depth=1, decoder_num_heads=2))")
    else:
        model = (f"model = dict(backbone=dict(arch={TINY_ARCH}), "
                 "neck=dict(in_channels=32))")
    loaders = ['train_dataloader', 'val_dataloader', 'test_dataloader'
               ] if is_probe else ['train_dataloader', 'val_dataloader']
    data = '\n'.join(
        f"{loader} = dict(num_workers=0, persistent_workers=False, "
        f"dataset=dict(data_root={photo_dataset!r}))" for loader in loaders)
    if '-knn_' in base:
        data += (f"\nval_cfg = dict(bank_dataloader=dict(dataset=dict("
                 f"data_root={photo_dataset!r})))\n"
                 "val_evaluator = dict(ks=(5, 20))")
    elif not is_probe:
        # The demo's k-NN evaluation, of the last of the 2 blocks, after
        # the last epoch; ks that fit 54 bank images.
        data += (f"\nval_cfg = dict(layers=(2, ), bank_dataloader=dict("
                 f"dataset=dict(data_root={photo_dataset!r})))\n"
                 "val_evaluator = dict(ks=(5, 20))")
    path.write_text(f"""
_base_ = [{osp.join(CONFIG_DIR, 'demo', base)!r}]
{model}
{data}
train_cfg = dict(max_epochs=2{', val_interval=2' if is_probe else ''})
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2))
{extra}
""")
    return str(path)


@pytest.fixture(scope='session')
def kamim_checkpoint(tmp_path_factory, photo_dataset) -> str:
    """A checkpoint of the tiny demo KAMIM after 2 epochs."""
    from mmengine.config import Config
    tmp = tmp_path_factory.mktemp('kamim')
    cfg = Config.fromfile(
        tiny_demo_config(tmp, photo_dataset,
                         'kamim_vit-micro_1xb32_photos-96px.py'))
    build_runner(cfg, tmp / 'work').train()
    return str(tmp / 'work' / 'epoch_2.pth')


def tiny_model_config(name: str):
    """A shipped pre-training config with a 2-block, 32-dim ViT (and, for
    the MAE family, a 1-block decoder)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    cfg.model.backbone.arch = TINY_VIT
    if cfg.model.neck.type == 'MAEPretrainDecoder':
        cfg.model.neck.update(embed_dim=32, decoder_embed_dim=32,
                              decoder_depth=1, decoder_num_heads=2)
    else:
        cfg.model.neck.in_channels = 32
    return cfg


def train_in_process(config: str, work_dir, **options):
    """Train a config file with mmengine's Runner in this process."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    runner = build_runner(cfg, work_dir)
    runner.train()
    return runner


def wait_for_file(path, child, hung_after: float = 900) -> None:
    """Wait until a training subprocess has written ``path``.

    Fails when the child exits first. ``hung_after`` seconds only guard
    against a child that hangs; no verdict depends on how fast it is.
    """
    import time
    give_up = time.monotonic() + hung_after
    while not osp.exists(path):
        if child.poll() is not None:
            pytest.fail(f'the run ended (exit {child.returncode}) before '
                        f'writing {path}')
        if time.monotonic() > give_up:
            child.kill()
            pytest.fail(f'the run hung: no {path} after {hung_after} s')
        time.sleep(0.02)


def load_tool(*parts: str):
    """A script under tools/ as a module (e.g. ``'model_converters',
    'hf_simmim_to_mmkamim.py'``)."""
    path = osp.join(REPO_ROOT, 'tools', *parts)
    spec = importlib.util.spec_from_file_location(
        osp.splitext(parts[-1])[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
