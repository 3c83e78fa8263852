"""What a grid probe costs against one probe: a training step of the grid
config's heads against the probe config's single head at the grid's deepest
block.

Both models come from the configs (random weights, nothing is loaded), see
the same random batch (MixUp soft labels included, as the probe trains) and
step their optimizers (AdamW in torch's fused kernel, as our runner steps
it; gradient clipping, per head for the grid).
Rounds alternate between the two, so that a slower phase of the machine
costs both alike. Prints a table.

Example (from configs/benchmarks/):
    python ../../tools/analysis_tools/benchmark_grid_probe.py \\
        vit-base-p16_8xb256-linear-grid-coslr-100e_in1k.py --batch 32
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.engine.optimizers import with_fused_adam


def models(cfg: Config):
    """The grid model and the single probe at the grid's deepest block,
    with their optim wrappers."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    grid_cfg = copy.deepcopy(cfg.model)
    grid_cfg.backbone.init_cfg = None
    grid = MODELS.build(grid_cfg)
    single_cfg = copy.deepcopy(grid_cfg)
    single_cfg.type = 'ProbeClassifier'
    single_cfg.pop('grid')
    single_cfg.backbone.out_indices = max(s.block
                                          for s in grid.settings) - 1
    single = MODELS.build(single_cfg)
    # AdamW in torch's fused kernel, as our runner steps it.
    optim = with_fused_adam(copy.deepcopy(cfg.optim_wrapper), 'cpu')
    grid_wrapper = build_optim_wrapper(grid, copy.deepcopy(optim))
    optim.type = 'OptimWrapper'
    optim.pop('constructor')
    single_wrapper = build_optim_wrapper(single, optim)
    return (grid, grid_wrapper), (single, single_wrapper)


def step(model, wrapper, inputs, samples) -> None:
    """One training step: the forward of the heads' losses, backward,
    clipping and the optimizer step."""
    losses = model.loss(inputs, samples)
    losses.pop('head_losses', None)
    loss, _ = model.parse_losses(losses)
    wrapper.update_params(loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a grid probe config')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--steps', type=int, default=3,
                        help='steps per round and model')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    (grid, grid_wrapper), (single, single_wrapper) = models(cfg)
    size = cfg.model.backbone.get('img_size', 224)
    classes = cfg.model.head.num_classes
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(args.batch, 3, size, size, generator=generator)
    samples = []
    for _ in range(args.batch):
        # A MixUp of two classes, as the probe's batch augmentation gives.
        score = torch.zeros(classes)
        pair = torch.randint(classes, (2, ), generator=generator)
        score[pair[0]] += 0.6
        score[pair[1]] += 0.4
        samples.append(DataSample().set_gt_score(score))
    pair = dict(grid=(grid, grid_wrapper), single=(single, single_wrapper))
    times = {name: [] for name in pair}
    for model, wrapper in pair.values():  # warm-up
        model.train()
        step(model, wrapper, inputs, samples)
    for _ in range(args.rounds):
        for name, (model, wrapper) in pair.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step(model, wrapper, inputs, samples)
            times[name].append((time.perf_counter() - start) / args.steps)
    single_s = statistics.median(times['single'])
    grid_s = statistics.median(times['grid'])
    deepest = max(s.block for s in grid.settings)
    print(f'{args.config}: batch {args.batch}, {size} px, median of '
          f'{args.rounds} interleaved rounds of {args.steps} steps, '
          f'{torch.get_num_threads()} threads')
    print('| model | heads | s / step | vs single |')
    print('|---|---:|---:|---:|')
    print(f'| single probe at block {deepest} | 1 | {single_s:.3f} | 1.00 |')
    print(f'| grid | {len(grid.settings)} | {grid_s:.3f} | '
          f'{grid_s / single_s:.2f} |')


if __name__ == '__main__':
    main()
