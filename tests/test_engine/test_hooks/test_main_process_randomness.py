"""What the main process draws (MAE's masks, drop path, MixUp and CutMix)
depends only on the seed and the position in training: the same run with
0, 2 or 4 dataloader workers trains the same parameters, and resuming
mid-epoch or at an epoch boundary equals the straight run.

Without ``ReproducibilityHook``'s seeding of every step
(``seed_steps=False``), the DataLoader's draw of its workers' base seed
(each time it makes an iterator) moves the main process's stream, and 0
and 2 workers end about 1e-2 apart.
"""
import os.path as osp
from pathlib import Path

import pytest
import torch
from conftest import CONFIG_DIR, TINY_ARCH, TINY_VIT, build_runner, config_path
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.utils import keypoints_in_pipeline

TINY_NECKS = {
    'SimMIMLinearDecoder': 'dict(in_channels=32)',
    'MAEPretrainDecoder': ('dict(embed_dim=32, decoder_embed_dim=32, '
                           'decoder_depth=1, decoder_num_heads=2)'),
}
PRETRAINING = {
    'simmim': 'simmim_vit-base_8xb256_in1k.py',
    'kamim': 'kamim_vit-base_8xb256_in1k.py',
    'kamim-pipeline': 'kamim_vit-base_8xb256_in1k.py',
    'mae': 'mae_vit-base_8xb256_in1k.py',
    'kamae': 'kamae_vit-base_8xb256_in1k.py',
    'pixmim': 'pixmim_vit-base_8xb256_in1k.py',
}
FINETUNE = 'vit-base-p16_8xb256-finetune-lrdecay-droppath-coslr-100e_in1k.py'

COMMON = """
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, by_epoch=False,
                    max_keep_ckpts=-1))
log_processor = dict(by_epoch=True)
randomness = dict(seed=0, deterministic=True)
optim_wrapper = dict(optimizer=dict(fused=True))
"""


def pretraining_config(tmp_path, image_folder, case: str) -> str:
    base = PRETRAINING[case]
    neck = Config.fromfile(osp.join(CONFIG_DIR, base)).model.neck.type
    path = config_path(tmp_path, case)
    path.write_text(f"""
_base_ = [{osp.join(CONFIG_DIR, base)!r}]
model = dict(backbone=dict(arch={TINY_ARCH}, drop_path_rate=0.2),
             neck={TINY_NECKS[neck]})
train_dataloader = dict(
    batch_size=2, pin_memory=False,
    dataset=dict(_delete_=True, type='CustomDataset',
                 data_root={image_folder!r}, with_label=False,
                 pipeline={{{{_base_.train_pipeline}}}}))
{COMMON}
""")
    return str(path)


def finetune_config(tmp_path, photo_dataset) -> str:
    """The fine-tune recipe (drop path, MixUp/CutMix, layer decay) of a
    2-block ViT on 24 of the photos, from random pre-trained weights."""
    init_default_scope('mmpretrain')
    backbone = MODELS.build(dict(type='VisionTransformer', arch=TINY_VIT,
                                 img_size=192, patch_size=16))
    checkpoint = tmp_path / 'pretrained.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in
                                backbone.state_dict().items()}), checkpoint)
    # 2 images of each of 12 classes (labels from the full class list).
    train = Path(photo_dataset) / 'train'
    classes = sorted(p.name for p in train.iterdir())
    listing = tmp_path / 'train.txt'
    listing.write_text(''.join(
        f'{c}/{image.name} {label}\n'
        for label, c in enumerate(classes[:12])
        for image in sorted((train / c).iterdir())[:2]))
    path = config_path(tmp_path, 'finetune')
    path.write_text(f"""
_base_ = [{osp.join(CONFIG_DIR, 'benchmarks', FINETUNE)!r}]
model = dict(
    backbone=dict(arch={TINY_ARCH},
                  init_cfg=dict(checkpoint={str(checkpoint)!r})),
    head=dict(num_classes=18, in_channels=32))
data_preprocessor = dict(num_classes=18)
train_dataloader = dict(
    batch_size=4, pin_memory=False,
    dataset=dict(_delete_=True, type='CustomDataset',
                 data_root={str(train)!r},
                 ann_file={str(listing)!r},
                 pipeline={{{{_base_.train_pipeline}}}}))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
{COMMON}
default_hooks['checkpoint']['save_best'] = None
""")
    return str(path)


def train(config: str, work_dir, workers: int, case: str, resume_from=None):
    cfg = Config.fromfile(config)
    cfg.train_dataloader.num_workers = workers
    cfg.train_dataloader.persistent_workers = workers == 2
    if case == 'kamim-pipeline':
        keypoints_in_pipeline(cfg)
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, str(resume_from)
    runner = build_runner(cfg, work_dir)
    runner.train()
    return torch.cat([v.flatten().float()
                      for v in runner.model.state_dict().values()])


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / a.abs().max())


@pytest.mark.slow
@pytest.mark.parametrize('case', sorted(PRETRAINING) + ['finetune'])
def test_workers_and_resume_points_change_nothing(tmp_path, image_folder,
                                                  photo_dataset, case):
    if case == 'finetune':
        config = finetune_config(tmp_path, photo_dataset)
        per_epoch = 6  # 24 images, batch 4
    else:
        config = pretraining_config(tmp_path, image_folder, case)
        per_epoch = 4  # 8 images, batch 2
    straight = train(config, tmp_path / 'w2', 2, case)
    for workers in (0, 4):
        assert relative_difference(
            straight, train(config, tmp_path / f'w{workers}', workers,
                            case)) <= 1e-6, f'{workers} workers'
    # Mid-epoch (the 2nd batch of epoch 2) and at the epoch boundary, with
    # workers, from the straight run's checkpoints.
    for step in (per_epoch + 1, per_epoch):
        resumed = train(config, tmp_path / f'r{step}', 2, case,
                        resume_from=tmp_path / 'w2' / f'iter_{step}.pth')
        assert relative_difference(straight, resumed) <= 1e-6, \
            f'resumed at iteration {step}'
