"""Evaluate an encoder by weighted k-NN, as mmengine evaluates a model."""
import logging
import time
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.base_loop import BaseLoop
from mmpretrain.registry import LOOPS
from torch.utils.data import DataLoader

from mmkamim.evaluation.metrics.knn_accuracy import Features, KNNAccuracy
from mmkamim.models.utils.encoder_features import (
    check_feature_settings,
    encoder_features,
)
from mmkamim.utils.errors import UsageError
from mmkamim.utils.random_state import generators_untouched

# ImageNet's mean and std on 0-255 RGB, as the probe configs normalise.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@LOOPS.register_module()
class KNNValLoop(BaseLoop):
    """mmengine's validation loop for a weighted k-NN evaluation.

    It extracts the features our linear probes read
    (:func:`~mmkamim.models.utils.encoder_features.encoder_features`) from
    the model's backbone, in eval mode and never masked, for a bank of
    labelled training images (``bank_dataloader``) and for the queries
    (``dataloader``: the validation set), then scores the queries with
    ``val_evaluator`` (:class:`~mmkamim.evaluation.KNNAccuracy`) and hands
    the metrics to the hooks as any validation does: ``knn/top1_k20``, ...,
    and ``knn/top1`` / ``knn/top5`` for its ``reported_k``; so
    ``CheckpointHook(save_best='knn/top1')`` and every visualisation backend
    work unchanged. The model's data preprocessor is not used (a
    ``KAMIMDataPreprocessor`` would compute keypoints): the images of the
    probes' test pipeline, RGB (its ``NumpyToPIL(to_rgb=True)``), are
    normalised with ``mean`` and ``std``, as the probe configs do. It
    leaves the training untouched: the model goes back to its mode, and the
    random generators to their state.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The queries (labelled).
        evaluator: A :class:`~mmkamim.evaluation.KNNAccuracy` config.
        bank_dataloader (DataLoader | dict): The labelled training images.
        layers (Sequence[int], optional): ViT blocks to read, 1-based
            (default: the backbone's last; our pre-training configs read the
            probed 8th of 12). Not for Swin, read at its last stage.
        token (str): ``'patch_mean'`` or ``'cls'``.
        mean (Sequence[float]): RGB mean on 0-255.
        std (Sequence[float]): RGB standard deviation on 0-255.
        to_rgb (bool): Reverse the channels first, for a pipeline that
            gives BGR. Defaults to False.
        fp16 (bool): Extract under float16 autocast (CUDA only).
        log_interval (int): Batches between progress lines.
        interval (int): During training, evaluate every ``interval`` epochs
            (iterations for an iteration-based loop) and after the last,
            with ``train_cfg.val_interval`` left at 1. The loop has its own
            interval so that a ``_base_`` file can switch the evaluation on:
            the schedule's ``_base_`` file already sets ``train_cfg``, and
            mmengine refuses a key that two ``_base_`` files set. Defaults
            to 1.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator,
                 bank_dataloader: Union[DataLoader, Dict],
                 layers: Optional[Sequence[int]] = None,
                 token: str = 'patch_mean',
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD,
                 to_rgb: bool = False,
                 fp16: bool = False,
                 log_interval: int = 50,
                 interval: int = 1) -> None:
        if interval < 1:
            raise UsageError(f'KNNValLoop interval must be >= 1, got '
                             f'{interval}')
        # Building dataloaders draws a sampler seed; training must not see.
        with generators_untouched():
            super().__init__(runner, dataloader)
            self.bank_dataloader = bank_dataloader if isinstance(
                bank_dataloader, DataLoader) else runner.build_dataloader(
                    bank_dataloader, seed=runner.seed)
        evaluator = runner.build_evaluator(evaluator)
        metrics = [m for m in evaluator.metrics if isinstance(m, KNNAccuracy)]
        if len(metrics) != 1:
            raise UsageError('KNNValLoop needs val_evaluator='
                             "dict(type='KNNAccuracy', ...)")
        self.metric = metrics[0]
        # Refused now rather than after the extraction (or, during
        # pre-training, after the first epochs).
        bank_size = len(self.bank_dataloader.dataset)
        too_large = [k for k in self.metric.ks if k > bank_size]
        if too_large:
            raise UsageError(
                f'k={too_large} for a bank of {bank_size} images: each k '
                f'must be in [1, {bank_size}]; choose smaller ks '
                '(val_evaluator.ks) or a larger bank')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        try:
            check_feature_settings(model.backbone, layers, token,
                                   prefix='val_cfg.')
        except ValueError as error:
            raise UsageError(str(error)) from error
        self.layers = layers
        self.token = token
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]
        self.to_rgb = to_rgb
        self.fp16 = fp16
        self.log_interval = log_interval
        self.interval = interval

    @property
    def settings(self) -> dict:
        """What the evaluation reads and how it scores, for the records."""
        metric = self.metric
        return dict(
            layers=list(self.layers) if self.layers else 'last',
            token=self.token, mean=self.mean, std=self.std, to_rgb=self.to_rgb,
            fp16=self.fp16, bank_images=len(self.bank_dataloader.dataset),
            query_images=len(self.dataloader.dataset), ks=list(metric.ks),
            tau=metric.tau, reported_k=metric.reported_k,
            bank_dtype=str(metric.bank_dtype).replace('torch.', ''))

    def _due(self) -> bool:
        """Whether this call, during training, falls on the interval."""
        # RuntimeInfoHook records the schedule when training starts; a
        # runner that only evaluates has no train loop.
        if self.runner.message_hub.get_info('max_iters') is None:
            return True
        loop = self.runner.train_loop
        done, total = ((loop.epoch, loop.max_epochs) if hasattr(
            loop, 'max_epochs') else (loop.iter, loop.max_iters))
        return done % self.interval == 0 or done >= total

    def run(self) -> Dict[str, float]:
        """Extract, score, and report the metrics to the hooks (during
        training, only on the interval: otherwise nothing, and ``{}``)."""
        if not self._due():
            return {}
        runner = self.runner
        runner.call_hook('before_val')
        runner.call_hook('before_val_epoch')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        training = model.training
        model.eval()
        start = time.perf_counter()
        try:
            with generators_untouched(), torch.no_grad():
                bank = self._features(model, self.bank_dataloader, 'bank')
                queries = self._features(model, self.dataloader, 'queries')
                metrics = self.metric.evaluate_features(bank, queries)
        finally:
            model.train(training)
        print_log(
            f'k-NN ({len(bank.indices)} bank features per rank, '
            f'{time.perf_counter() - start:.1f} s): ' +
            ', '.join(f'{k} {v:.2f}' for k, v in sorted(metrics.items())),
            logger='current')
        runner.call_hook('after_val_epoch', metrics=metrics)
        runner.call_hook('after_val')
        return metrics

    def _features(self, model, loader: DataLoader, what: str) -> Features:
        device = next(model.parameters()).device
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        features, labels, indices = [], [], []
        # The loop calls no per-batch hooks; a stop signal is looked for
        # after every batch all the same (PreemptionHook).
        watchers = [h for h in self.runner.hooks
                    if hasattr(h, 'after_validation_batch')]
        for hook in watchers:
            hook.before_validation_batches(self.runner, loader)
        for i, batch in enumerate(loader):
            images = batch['inputs']
            if isinstance(images, (list, tuple)):
                images = torch.stack(images)
            images = images.to(device).float()
            if self.to_rgb:
                images = images.flip(1)
            images = (images - mean) / std
            with torch.autocast(device.type, torch.float16,
                                enabled=self.fp16):
                features.append(self.metric.stored(
                    encoder_features(model.backbone, images, self.layers,
                                     self.token), bank=what == 'bank'))
            for sample in batch['data_samples']:
                if 'gt_label' not in sample:
                    raise UsageError(
                        f'the k-NN {what} image {sample.img_path} has no '
                        'class label: k-NN needs a labelled dataset')
                labels.append(int(sample.gt_label[0]))
                indices.append(int(sample.sample_idx))
            if (i + 1) % self.log_interval == 0 or i + 1 == len(loader):
                print_log(f'k-NN {what}: batch {i + 1}/{len(loader)}',
                          logger='current', level=logging.INFO)
            for hook in watchers:
                hook.after_validation_batch(self.runner, i)
        return Features(torch.cat(features), torch.tensor(labels),
                        torch.tensor(indices))
