"""How long a stopped run needs to save: the grace to give it.

A run stopped by SIGTERM, SIGINT or SIGUSR1 finishes its iteration (or its
validation batch), writes a checkpoint of the model and the optimizer state
and exits. This builds a config's model and optimizer, fills the
optimizer's state with one step, and writes such a checkpoint as training
does (mmengine's ``save_checkpoint``, then ``fsync`` and the rename of
``AtomicCheckpointHook``) into ``--out-dir``, which should be on the file
system the work dir will be on. Prints a table: the checkpoint's size and
the seconds to write it (median of ``--rounds``).

Example:
    python tools/analysis_tools/benchmark_checkpoint_save.py \\
        configs/kamim_vit-base_8xb256_in1k.py --out-dir work_dirs
"""
import argparse
import os
import os.path as osp
import statistics
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu
from mmpretrain.registry import MODELS

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.utils.checkpoint_files import partial_name, publish


def filled_checkpoint(cfg: Config) -> dict:
    """The model's weights and an optimizer state after one step, as a
    training checkpoint holds them."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    # The optimizer state is the same with --amp's wrapper (CUDA only).
    wrapper = build_optim_wrapper(
        model, dict(cfg.optim_wrapper, type='OptimWrapper'))
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    wrapper.step()
    return dict(meta=dict(epoch=1, iter=1),
                state_dict=weights_to_cpu(model.state_dict()),
                optimizer=wrapper.state_dict())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--out-dir', default=None,
                        help='folder to write in (default: a temporary '
                        'folder); put it on the work dir\'s file system')
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    checkpoint = filled_checkpoint(Config.fromfile(args.config))
    seconds = []
    with tempfile.TemporaryDirectory(dir=args.out_dir) as folder:
        path = osp.join(folder, 'iter_1.pth')
        for _ in range(args.rounds):
            start = time.perf_counter()
            save_checkpoint(checkpoint, partial_name(path))
            publish(partial_name(path), path)
            seconds.append(time.perf_counter() - start)
            size = os.path.getsize(path)
            os.remove(path)
    write = statistics.median(seconds)
    print(f'{args.config}: checkpoint with the optimizer state, median of '
          f'{args.rounds} writes into {args.out_dir or tempfile.gettempdir()}')
    print('| checkpoint | seconds to write | MB/s |')
    print('|---:|---:|---:|')
    print(f'| {size / 1e6:.0f} MB | {write:.2f} | {size / 1e6 / write:.0f} |')
    print('Grace a stopped run needs: one training iteration (or one '
          'validation batch) + the write above + a few seconds to exit.')


if __name__ == '__main__':
    main()
