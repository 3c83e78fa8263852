"""Train a model from an MMPretrain-style config (mmkamim's components
registered)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.utils import (
    UsageError,
    keypoints_in_pipeline,
    process_group_closed_at_exit,
    refused_without_traceback,
    setup_cpu_distributed,
)
from mmkamim.utils.config_checks import check_training_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, without a path, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (AmpOptimWrapper; needs CUDA)')
    parser.add_argument(
        '--amp-dtype',
        choices=['bfloat16', 'float16'],
        default='bfloat16',
        help='autocast dtype with --amp; the released KAMIM code used '
        'bfloat16')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr linearly with the actual total batch size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in the dataloaders')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'model.data_preprocessor.temperature=0.1)')
    parser.add_argument(
        '--vis-backend',
        action='append',
        choices=sorted(VIS_BACKENDS),
        default=[],
        help='also log to TensorBoard or Weights & Biases (repeatable; '
        'needs the tensorboard / wandb extra); mmengine\'s local backend '
        'always stays')
    parser.add_argument(
        '--keypoints-in-pipeline',
        action='store_true',
        help='compute the keypoint weights with the KeypointDensity '
        'transform in the dataloader workers instead of on the training '
        'device (needed for ORB, SIFT and the point raster); the settings '
        'stay under model.data_preprocessor')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed launchers pass --local-rank (or --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


# --vis-backend choices, as mmengine names the backends.
VIS_BACKENDS = {
    'tensorboard': 'TensorboardVisBackend',
    'wandb': 'WandbVisBackend',
}


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line arguments to the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    # work_dir: command line, then config, then ./work_dirs/<config name>.
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp and cfg.optim_wrapper.get('type') == 'GridProbeOptimWrapper':
        # A grid probe's wrapper autocasts itself (bfloat16 only: one loss
        # scaler for all heads would skip them all when one overflows).
        if args.amp_dtype != 'bfloat16':
            raise UsageError(
                f'--amp-dtype {args.amp_dtype}: a grid probe trains in '
                'float32 or bfloat16 (one loss scaler for all its heads '
                "would skip every head's step when one overflows); use "
                '--amp-dtype bfloat16')
        cfg.optim_wrapper.dtype = args.amp_dtype
    elif args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = args.amp_dtype
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    backends = cfg.visualizer.setdefault('vis_backends', [])
    for name in dict.fromkeys(args.vis_backend):
        backends.append(dict(type=VIS_BACKENDS[name]))

    def set_dataloader_defaults(field: str) -> None:
        if cfg.get(field, None) is None:
            return
        loader = ConfigDict(
            pin_memory=True,
            persistent_workers=True,
            collate_fn=dict(type='default_collate'))
        loader.update(cfg[field])
        if args.no_pin_memory:
            loader.pin_memory = False
        if args.no_persistent_workers:
            loader.persistent_workers = False
        cfg[field] = loader

    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_dataloader_defaults(field)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # Worker-less loaders cannot keep workers (e.g. num_workers=0 given in
    # --cfg-options).
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field) and not cfg[field].get('num_workers', 0):
            cfg[field].persistent_workers = False
    if args.keypoints_in_pipeline:
        keypoints_in_pipeline(cfg)
    return cfg


def main() -> None:
    args = parse_args()
    with refused_without_traceback():
        cfg = merge_args(Config.fromfile(args.config), args)
        check_training_config(cfg)
    with refused_without_traceback(), process_group_closed_at_exit():
        train(setup_cpu_distributed(cfg))


def train(cfg: Config) -> None:
    """Build the runner and train; the runner is gone when this returns."""
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
