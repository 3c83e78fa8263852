"""Top-k accuracy of every head of a grid probe, and the best head."""
import logging
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS


@METRICS.register_module()
class GridAccuracy(BaseMetric):
    """Top-1 and top-5 accuracy (%) of each head of a
    :class:`~mmkamim.models.GridProbeClassifier`, named by its setting
    (``grid/b8_none_lr0.005/top1``), and of the best head
    (``grid/best/top1``, ``grid/best/top5``; its name is logged), which
    ``CheckpointHook(save_best='grid/best/top1')`` can follow. The best head
    is the one with the highest top-1 on the split it is reported on, so its
    figure is optimistic for that split: the probe config's own setting
    (MMPretrain's ``Accuracy``, ``accuracy/top1``) stays the headline figure.

    Each sample's correctness per head is kept, not its scores (40 heads x
    1000 classes x 50,000 images would not fit).

    Args:
        topk (Sequence[int]): The k of top-k. Defaults to (1, 5).
    """

    default_prefix = 'grid'

    def __init__(self, topk: Sequence[int] = (1, 5), **kwargs) -> None:
        super().__init__(**kwargs)
        self.topk = tuple(topk)
        self.names: List[str] = []
        self.headline = 0

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Note, for every sample, which heads have the label in their
        top k."""
        for sample in data_samples:
            if 'grid_scores' not in sample:
                raise ValueError(
                    'GridAccuracy evaluates a GridProbeClassifier: the '
                    'predictions carry no grid_scores')
            scores = sample['grid_scores']  # (heads, classes)
            label = int(sample['gt_label'][0])
            rank = (scores > scores[:, label:label + 1]).sum(-1)
            self.names = list(sample['grid_names'])
            self.headline = int(sample['grid_headline'])
            self.results.append(torch.stack(
                [rank < k for k in self.topk], -1).cpu())

    def compute_metrics(self, results: List[torch.Tensor]) -> Dict[str,
                                                                  float]:
        """Every head's accuracy, and the best head's."""
        correct = torch.stack(results).float().mean(0) * 100  # (heads, k)
        metrics = {}
        for name, row in zip(self.names, correct):
            for k, value in zip(self.topk, row):
                metrics[f'{name}/top{k}'] = float(value)
        best = int(correct[:, 0].argmax())
        for k, value in zip(self.topk, correct[best]):
            metrics[f'best/top{k}'] = float(value)
        headline = self.names[self.headline]
        print_log(
            f'grid: best head {self.names[best]} '
            f'({float(correct[best, 0]):.2f} top-{self.topk[0]}, chosen on '
            'this split); the config\'s own setting '
            f'{headline}: {float(correct[self.headline, 0]):.2f}',
            logger='current', level=logging.INFO)
        return metrics
