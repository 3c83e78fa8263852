"""Weighted k-NN accuracy of a pre-trained encoder (DINO's rule).

Reads the features the config's linear probe reads, for the train split (the
bank) and the val/test split (the queries), through the probe's test
pipeline; prints a table of top-1/top-5 per k and writes it, with the
settings, as JSON. Works on our pre-training checkpoints, converted releases
(their LayerNorm epsilon applied) and MMPretrain ViT checkpoints; a
checkpoint that does not fill the backbone stops the run
(``CheckPretrainedHook``). See docs/knn.md.

Example::

    python tools/benchmarks/knn_eval.py \\
        configs/benchmarks/vit-base-p16_8xb256-knn_in1k.py CHECKPOINT
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.utils import (
    process_group_closed_at_exit,
    refused_without_traceback,
    setup_cpu_distributed,
)
from mmkamim.utils.checkpoint_files import apply_checkpoint_norm_eps


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Weighted k-NN accuracy of a pre-trained encoder')
    parser.add_argument('config', help='k-NN config (configs/benchmarks/'
                        '*-knn_*.py)')
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('--work-dir', help='folder for the log and JSON')
    parser.add_argument(
        '--out', help='JSON file for the results (default: '
        'WORK_DIR/knn.json)')
    parser.add_argument(
        '--amp', action='store_true',
        help='extract features under float16 autocast (needs CUDA)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


class InitPretrained(Hook):
    """Load ``model.backbone.init_cfg``'s weights once the
    ``CheckPretrainedHook`` (priority VERY_HIGH) has checked them:
    ``Runner.val`` initialises no weights itself."""

    priority = 'HIGH'

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        model.init_weights()


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line arguments to the config."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=args.checkpoint, prefix='backbone.')
    apply_checkpoint_norm_eps(cfg, args.checkpoint)
    if args.amp:
        cfg.val_cfg.fp16 = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # Nothing is trained: no training data or optimizer is built.
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                'param_scheduler', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    return cfg


def table(metrics: dict) -> str:
    """k x top-1 / top-5 as a markdown table."""
    ks = sorted({int(name.rsplit('_k', 1)[1])
                 for name in metrics if '_k' in name})
    lines = ['| k | top-1 (%) | top-5 (%) |', '|---:|---:|---:|']
    lines += [f'| {k} | {metrics[f"knn/top1_k{k}"]:.2f} '
              f'| {metrics[f"knn/top5_k{k}"]:.2f} |' for k in ks]
    return '\n'.join(lines)


def knn_eval(cfg: Config, args: argparse.Namespace) -> dict:
    """Build the runner, extract and score; the runner is gone on return."""
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    runner.register_hook(InitPretrained())
    metrics = runner.val()
    if get_rank() == 0:
        print(table(metrics))
        out = args.out or osp.join(cfg.work_dir, 'knn.json')
        with open(out, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           metrics=metrics,
                           settings=runner.val_loop.settings), f, indent=2)
        print(f'results: {out}')
    return metrics


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    with refused_without_traceback(), process_group_closed_at_exit():
        knn_eval(setup_cpu_distributed(cfg), args)


if __name__ == '__main__':
    main()
