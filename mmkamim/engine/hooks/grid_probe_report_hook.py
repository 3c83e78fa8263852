"""Write a grid probe's table, JSON and heat map into the work dir."""
import json
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from mmkamim.visualization.grid_figure import draw_grid, markdown_tables


@HOOKS.register_module()
class GridProbeReportHook(Hook):
    """After every validation (and test) of a
    :class:`~mmkamim.models.GridProbeClassifier`, write ``grid.json`` (every
    head's setting, top-1 and top-5, the best head and the config's own
    setting) and ``grid.png`` (heat maps of the top-1: blocks x learning
    rates, one per norm) into the work dir; at the end of training (and of a
    test) print the tables. The best head is chosen on the split it is
    reported on; the config's own setting is the headline figure.

    Args:
        prefix (str): The metrics' prefix (``GridAccuracy``'s). Defaults to
            ``'grid'``.
    """

    priority = 'LOW'

    def __init__(self, prefix: str = 'grid') -> None:
        self.prefix = prefix
        self.report: Optional[Dict] = None

    def _write(self, runner, metrics: Optional[Dict]) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not metrics or not hasattr(model, 'settings') or \
                f'{self.prefix}/best/top1' not in metrics:
            return
        heads = []
        for i, setting in enumerate(model.settings):
            key = f'{self.prefix}/{setting.name}'
            heads.append(dict(
                name=setting.name, block=setting.block, norm=setting.norm,
                lr=setting.lr, top1=metrics[f'{key}/top1'],
                top5=metrics.get(f'{key}/top5'),
                diverged=bool(model.diverged[i]),
                headline=i == model.headline))
        best = max(range(len(heads)), key=lambda i: heads[i]['top1'])
        for i, head in enumerate(heads):
            head['best'] = i == best
        self.report = dict(
            iteration=runner.iter, epoch=runner.epoch,
            headline=heads[model.headline]['name'],
            best=heads[best]['name'],
            note='the best head is chosen on the split it is reported on; '
            "the headline is the probe config's own setting",
            heads=heads)
        if not is_main_process():
            return
        with open(osp.join(runner.work_dir, 'grid.json'), 'w') as f:
            json.dump(self.report, f, indent=2)
        draw_grid(heads, f'{len(heads)} heads, iteration {runner.iter}; '
                  'black: best, white: the config\'s own setting',
                  osp.join(runner.work_dir, 'grid.png'))

    def _print(self, runner) -> None:
        if self.report is None:
            return
        heads = self.report['heads']
        best = next(h for h in heads if h['best'])
        headline = next(h for h in heads if h['headline'])
        print_log(
            f'grid probe, {len(heads)} heads (iteration '
            f'{self.report["iteration"]}):\n{markdown_tables(heads)}\n'
            f'best: {best["name"]} ({best["top1"]:.2f}, chosen on this '
            f'split); the config\'s own setting {headline["name"]}: '
            f'{headline["top1"]:.2f}. Written to '
            f'{osp.join(runner.work_dir, "grid.json")} and grid.png',
            logger='current')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._write(runner, metrics)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._write(runner, metrics)
        self._print(runner)

    def after_train(self, runner) -> None:
        self._print(runner)
