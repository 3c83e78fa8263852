"""Evaluate a checkpoint with an MMPretrain-style config (mmkamim's
components registered).

The flags are MMPretrain's ``tools/test.py`` flags with the same meaning:
``--out`` writes the predictions (``--out-item metrics`` writes the metrics
instead), ``--show-dir`` / ``--show`` draw them, ``--tta`` averages the
scores of flipped and unflipped images unless the config has its own
``tta_model`` and ``tta_pipeline``.
"""
import argparse
import copy
import os
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.evaluator import DumpResults
from mmengine.fileio import dump
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.utils import (
    process_group_closed_at_exit,
    refused_without_traceback,
    setup_cpu_distributed,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out',
        help='file for the results: the predictions (.pkl), or the metrics '
        'with --out-item metrics (.json, .yaml or .pkl)')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help="what --out holds (default: 'pred', the predictions)")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='test with automatic mixed precision (needs CUDA)')
    parser.add_argument(
        '--show-dir', help='save images with their predictions here')
    parser.add_argument(
        '--show', action='store_true', help='display the predictions')
    parser.add_argument(
        '--interval', type=int, default=1,
        help='draw every N-th image (with --show or --show-dir)')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='seconds each displayed image stays (with --show)')
    parser.add_argument(
        '--no-pin-memory', action='store_true',
        help='disable pin_memory in the test dataloader')
    parser.add_argument(
        '--tta', action='store_true',
        help="test-time augmentation: the config's tta_model and "
        'tta_pipeline, or else the mean score of the image and its '
        'horizontal flip')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if args.out_item is not None and args.out is None:
        parser.error('--out-item needs --out, the file to write')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def flip_tta(cfg: Config) -> None:
    """Average the classification scores of each image and its horizontal
    flip, unless the config brings its own test-time augmentation."""
    cfg.setdefault('tta_model', dict(type='mmpretrain.AverageClsScoreTTA'))
    if 'tta_pipeline' not in cfg:
        pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        # Flip the numpy image: before the first PIL/tensor step, or at
        # least before PackInputs.
        numpy_steps = next(
            (i for i, step in enumerate(pipeline)
             if step['type'] == 'NumpyToPIL'
             or step['type'].startswith('torchvision/')), len(pipeline) - 1)
        rest = [[step] for step in pipeline[numpy_steps:]]
        flips = [dict(type='RandomFlip', prob=1.0),
                 dict(type='RandomFlip', prob=0.0)]
        cfg.tta_pipeline = pipeline[:numpy_steps] + [
            dict(type='TestTimeAug', transforms=[flips] + rest)
        ]
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line arguments to the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    if args.show or args.show_dir is not None:
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ValueError(
                '--show and --show-dir need a VisualizationHook: set '
                "default_hooks.visualization=dict(type='VisualizationHook')")
        cfg.default_hooks.visualization.update(
            enable=True, show=args.show, wait_time=args.wait_time,
            out_dir=args.show_dir, interval=args.interval)
    if args.tta:
        flip_tta(cfg)
    loader = ConfigDict(pin_memory=True,
                        collate_fn=dict(type='default_collate'))
    loader.update(cfg.test_dataloader)
    cfg.test_dataloader = loader
    if args.no_pin_memory:
        cfg.test_dataloader.pin_memory = False
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # Worker-less loaders cannot keep workers (e.g. num_workers=0 given in
    # --cfg-options).
    if not cfg.test_dataloader.get('num_workers', 0):
        cfg.test_dataloader.persistent_workers = False
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    with refused_without_traceback(), process_group_closed_at_exit():
        test(setup_cpu_distributed(cfg), args)


def test(cfg: Config, args: argparse.Namespace) -> None:
    """Build the runner and test; the runner is gone when this returns."""
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    if args.out is not None and args.out_item != 'metrics':
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out is not None and args.out_item == 'metrics' \
            and runner.rank == 0:
        dump(metrics, args.out)


if __name__ == '__main__':
    main()
