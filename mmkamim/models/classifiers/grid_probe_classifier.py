"""Many linear probes of one frozen backbone, trained in one pass."""
import copy
import itertools
import logging
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from .probe_classifier import (
    NORMS,
    ProbeClassifier,
    ProbeSetting,
    init_probe_head,
    neck_norm,
)


def grid_settings(grid: dict, headline: ProbeSetting,
                  num_layers: int) -> List[ProbeSetting]:
    """Every (block, norm, lr) of ``grid``, the headline setting included,
    checked.

    Raises:
        ValueError: An empty or unknown entry, a block the backbone does not
            have, or a setting listed twice.
    """
    unknown = set(grid) - {'blocks', 'norms', 'lrs', 'headline_lr'}
    if unknown:
        raise ValueError(f'model.grid has unknown keys {sorted(unknown)}: '
                         'it takes blocks, norms, lrs and headline_lr')
    lists = {}
    for key in ('blocks', 'norms', 'lrs'):
        values = list(grid.get(key) or [])
        if not values:
            raise ValueError(f'model.grid.{key} is empty: give at least one')
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f'model.grid.{key} lists {repeated} more than '
                             'once: every head must be different')
        lists[key] = values
    beyond = [b for b in lists['blocks']
              if isinstance(b, bool) or not isinstance(b, int)
              or not 1 <= b <= num_layers]
    if beyond:
        raise ValueError(f'model.grid.blocks {beyond}: this ViT has blocks '
                         f'1 to {num_layers}')
    bad = [n for n in lists['norms'] if n not in NORMS]
    if bad:
        raise ValueError(f'model.grid.norms {bad}: each must be one of '
                         f'{list(NORMS)}')
    lrs = [lr for lr in lists['lrs'] if not float(lr) > 0]
    if lrs:
        raise ValueError(f'model.grid.lrs {lrs}: learning rates must be > 0')
    settings = [ProbeSetting(b, n, float(lr)) for b, n, lr in
                itertools.product(lists['blocks'], lists['norms'],
                                  lists['lrs'])]
    if headline not in settings:
        settings.append(headline)
    return settings


def _num_layers(backbone: dict) -> int:
    """The depth of a ViT backbone config."""
    arch = backbone.get('arch', 'base')
    if isinstance(arch, dict):
        return int(arch['num_layers'])
    zoo = getattr(MODELS.get(backbone['type']), 'arch_zoo', {})
    if arch not in zoo:
        raise ValueError(f'a grid probe reads a ViT; {backbone["type"]} has '
                         f'no arch {arch!r}')
    return int(zoo[arch]['num_layers'])


@MODELS.register_module()
class GridProbeClassifier(ProbeClassifier):
    """Independent linear heads for every combination of blocks, norms and
    learning rates, on one frozen backbone forward.

    The backbone (a ``LinearProbeViT``) runs without gradients up to the
    deepest block asked for and hands each head its block's patch tokens.
    Each head is the probe config's neck and head for its setting: average
    pooling (``'none'``) or ``LayerNormNeck`` in mode ``'tokens'`` or
    ``'channels'``, then the linear layer. Its weights start from its
    setting (:func:`~.probe_classifier.init_probe_head`), and with
    :class:`~mmkamim.engine.optimizers.GridProbeOptimWrapperConstructor`
    each head has its own AdamW state, learning rate, schedule, weight decay
    and gradient clipping, so every head trains exactly as a separate
    :class:`ProbeClassifier` run with its setting: the heads' losses are
    summed, and a head's parameters get the gradient of its own loss only.

    The probe config's own setting, its backbone's block, its neck and the
    optimizer's learning rate (``grid.headline_lr``), is always one of the
    heads (added if the grid leaves it out): its predictions are
    ``pred_score`` (MMPretrain's ``Accuracy`` reports it as today's probe
    does); every head's scores go to ``grid_scores`` for
    :class:`~mmkamim.evaluation.GridAccuracy`.

    A head whose loss is not finite counts 0 in the training loss (the
    optim wrapper then freezes it: see
    :class:`~mmkamim.engine.optimizers.GridProbeOptimWrapper`), so one
    diverging head does not stop the run; the number of frozen heads is
    logged as ``heads_diverged``. The run stops when every head has
    diverged.

    Args:
        backbone (dict): The probe's ``LinearProbeViT``; its
            ``out_indices`` is the headline block, and it is built to the
            deepest block of the grid.
        grid (dict): ``blocks`` (1-based), ``norms`` (``'none'``,
            ``'tokens'``, ``'channels'``), ``lrs`` and ``headline_lr`` (the
            probe config's learning rate).
        neck (dict, optional): The probe's neck (``GlobalAveragePooling``
            or ``LayerNormNeck``): the headline norm, and, if a
            ``LayerNormNeck``, the template of the ``'tokens'`` and
            ``'channels'`` necks (else they normalise the
            ``(img_size / patch_size)^2`` tokens, eps 1e-5).
        head (dict): The probe's ``LinearClsHead``, built once per setting.
        **kwargs: ``ImageClassifier``'s other arguments.
    """

    def __init__(self, backbone: dict, grid: dict,
                 neck: Optional[dict] = None, head: Optional[dict] = None,
                 **kwargs) -> None:
        head = head or {}
        probe_neck = copy.deepcopy(neck)
        num_layers = _num_layers(backbone)
        headline_lr = grid.get('headline_lr')
        if headline_lr is None:
            raise ValueError('model.grid.headline_lr is not set: give the '
                             "probe config's learning rate "
                             '(optim_wrapper.optimizer.lr)')
        indices = backbone.get('out_indices', -1)
        indices = indices if isinstance(indices, (list, tuple)) else [indices]
        headline = ProbeSetting(max(i % num_layers for i in indices) + 1,
                                neck_norm(neck), float(headline_lr))
        settings = grid_settings(grid, headline, num_layers)
        blocks = sorted({s.block for s in settings})
        super().__init__(
            backbone=dict(backbone, out_indices=[b - 1 for b in blocks]),
            neck=None, head=head, **kwargs)
        self.settings = settings
        self.headline = settings.index(headline)
        self.setting = headline
        self._block_index = {b: i for i, b in enumerate(blocks)}
        self.necks = nn.ModuleList(
            self._neck(s.norm, probe_neck, backbone, head) for s in settings)
        self.heads = nn.ModuleList(MODELS.build(copy.deepcopy(head))
                                   for _ in settings)
        del self.head  # the per-setting heads replace ImageClassifier's
        # Heads frozen for good after going non-finite (saved, so that a
        # resumed run keeps them frozen).
        self.register_buffer('diverged',
                             torch.zeros(len(settings), dtype=torch.bool))

    @staticmethod
    def _neck(norm: str, probe_neck: Optional[dict], backbone: dict,
              head: dict) -> nn.Module:
        """Average pooling, or a ``LayerNormNeck`` in the norm's mode: the
        probe config's own if it has one, else one for the backbone's
        tokens (its defaults, as the ``-ln`` probe configs use them)."""
        if norm == 'none':
            return MODELS.build(dict(type='GlobalAveragePooling'))
        template = dict(probe_neck or {})
        if template.get('type') != 'LayerNormNeck':
            side = backbone.get('img_size', 224) // backbone.get(
                'patch_size', 16)
            template = dict(type='LayerNormNeck',
                            in_channels=head['in_channels'],
                            num_tokens=side * side)
        return MODELS.build(dict(template, mode=norm))

    @property
    def names(self) -> List[str]:
        """Every head's setting as a name, e.g. ``'b8_none_lr0.005'``."""
        return [s.name for s in self.settings]

    def head_parameters(self, index: int) -> List[nn.Parameter]:
        """The trainable parameters of one head (its neck's and its linear
        layer's)."""
        return [p for module in (self.necks[index], self.heads[index])
                for p in module.parameters() if p.requires_grad]

    def init_weights(self) -> None:
        """The backbone from its checkpoint; each head from its setting."""
        # ImageClassifier's initialisation loads the backbone.
        super(ProbeClassifier, self).init_weights()
        seed = torch.initial_seed()
        for setting, head in zip(self.settings, self.heads):
            init_probe_head(head, seed, setting, self._head_std)

    def _head_inputs(self, inputs: torch.Tensor) -> List[tuple]:
        """What each head's linear layer reads, from one backbone forward:
        the pooled tokens of its block, computed once per block for the
        heads without a LayerNorm, and for those with one the normalised
        tokens computed once per block (they have no parameters), scaled,
        shifted and pooled by each head's own LayerNorm weights, exactly as
        its ``LayerNormNeck`` alone computes them."""
        feats = self.backbone(inputs)
        shared, out = {}, []
        for setting, neck in zip(self.settings, self.necks):
            feat = feats[self._block_index[setting.block]]
            key = (setting.block, setting.norm)
            if setting.norm == 'none':
                if key not in shared:
                    shared[key] = neck((feat, ))
                out.append(shared[key])
                continue
            if key not in shared:
                shared[key] = neck.normalize(feat)
            out.append((neck.pool_normalized(shared[key]), ))
        return out

    def _scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """(H, B, classes) scores of every head."""
        return torch.stack([
            head(feats) for feats, head in zip(self._head_inputs(inputs),
                                               self.heads)
        ])

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """The sum of the heads' losses, frozen and non-finite ones counted
        0, and every head's loss (``head_losses``, taken out by
        :meth:`train_step`). No host synchronisation: a compiled forward is
        one graph."""
        losses = torch.stack([
            head.loss(feats, data_samples)['loss']
            for feats, head in zip(self._head_inputs(inputs), self.heads)
        ])
        keep = torch.isfinite(losses) & ~self.diverged
        return dict(loss=torch.where(keep, losses, 0.).sum(),
                    head_losses=losses.detach())

    def train_step(self, data, optim_wrapper) -> Dict[str, torch.Tensor]:
        """mmengine's step, with the heads whose loss is not finite (on any
        rank: the ranks must freeze the same heads) frozen before the
        optimizer steps, and the number of frozen heads logged as
        ``heads_diverged``."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        bad = (~torch.isfinite(losses.pop('head_losses'))).int()
        if get_world_size() > 1:
            all_reduce(bad, op='max')
        for index in bad.nonzero().flatten().tolist():
            self.mark_diverged(index, 'loss')
        if bool(self.diverged.all()):
            raise RuntimeError(
                f'every one of the {len(self.settings)} heads of the grid '
                'has diverged: nothing is left to train. Lower '
                'model.grid.lrs')
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        log_vars['heads_diverged'] = self.diverged.sum().float()
        return log_vars

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """The headline head's prediction; every head's scores in
        ``grid_scores`` (H, classes) and their names in the metainfo."""
        scores = self._scores(inputs).softmax(-1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.shape[1])]
        names = self.names
        for i, sample in enumerate(data_samples):
            headline = scores[self.headline, i]
            sample.set_pred_score(headline).set_pred_label(
                headline.argmax(keepdim=True))
            sample.set_field(scores[:, i], 'grid_scores')
            sample.set_metainfo(dict(grid_names=names,
                                     grid_headline=self.headline))
        return data_samples

    def mark_diverged(self, index: int, why: str) -> None:
        """Freeze a head for the rest of the run (its weights as they were
        after its last finite step)."""
        if not bool(self.diverged[index]):
            self.diverged[index] = True
            print_log(f'grid head {self.settings[index].name} diverged '
                      f'({why}): frozen at its last finite weights; '
                      f'{int(self.diverged.sum())} of {len(self.settings)} '
                      'heads frozen', logger='current',
                      level=logging.WARNING)

    def extract_feat(self, inputs, stage='neck'):
        raise NotImplementedError(
            'a GridProbeClassifier has one feature per head: use predict')
