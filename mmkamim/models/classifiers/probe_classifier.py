"""A linear probe whose head starts from weights its setting fixes."""
from typing import NamedTuple, Optional

import torch
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from torch import nn

from mmkamim.datasets.seeded_pipeline import sample_seed

# How the probe reads the block's tokens before its linear layer: average
# pooling, or LayerNormNeck's modes (a LayerNorm, then the pooling).
NORMS = ('none', 'tokens', 'channels')


class ProbeSetting(NamedTuple):
    """Where and how a linear head probes: block (1-based), norm (one of
    :data:`NORMS`) and learning rate (None: the optimizer's)."""
    block: int
    norm: str
    lr: Optional[float] = None

    @property
    def name(self) -> str:
        """``'b8_none_lr0.005'``: block, norm, learning rate."""
        lr = '' if self.lr is None else f'_lr{self.lr:g}'
        return f'b{self.block}_{self.norm}{lr}'


def neck_norm(neck: Optional[dict]) -> str:
    """The :data:`NORMS` entry a probe's neck config stands for."""
    kind = (neck or {}).get('type', 'GlobalAveragePooling')
    if kind == 'GlobalAveragePooling':
        return 'none'
    if kind == 'LayerNormNeck':
        return neck.get('mode', 'tokens')
    raise ValueError(
        f'a linear probe reads its block through GlobalAveragePooling or '
        f'LayerNormNeck, got neck type {kind!r}')


def init_probe_head(head: nn.Module, run_seed: int, setting: ProbeSetting,
                    std: float = 0.01) -> None:
    """Draw a linear head's weights from a generator seeded by the run's
    seed and the head's block and norm (not its learning rate, nor how many
    other heads a run trains): N(0, std^2) weights, zero bias, as
    MMPretrain's ``LinearClsHead`` initialises them.

    Heads that differ only in their learning rate start from the same
    weights, as separate runs with those rates do.
    """
    seed = sample_seed(run_seed, setting.block, NORMS.index(setting.norm))
    generator = torch.Generator().manual_seed(seed)
    weight = head.fc.weight
    with torch.no_grad():
        weight.copy_(torch.randn(weight.shape, generator=generator) * std)
        head.fc.bias.zero_()


def head_std(head_cfg: dict) -> float:
    """The standard deviation a head config's ``Normal`` init asks for."""
    init_cfg = head_cfg.get('init_cfg', dict(type='Normal', std=0.01))
    if not isinstance(init_cfg, dict) or init_cfg.get('type') != 'Normal':
        raise ValueError(
            'a linear probe head draws its weights from N(0, std^2): give '
            "it init_cfg=dict(type='Normal', layer='Linear', std=...), got "
            f'{init_cfg!r}')
    return float(init_cfg.get('std', 0.01))


@MODELS.register_module()
class ProbeClassifier(ImageClassifier):
    """MMPretrain's ``ImageClassifier`` for a linear probe, whose head's
    initial weights depend only on the run's seed and where the probe reads
    (block and norm; :func:`init_probe_head`).

    MMPretrain draws the head from torch's global generator, so a head's
    start depended on everything drawn before it. Here a separate probe run
    and the same setting in a :class:`GridProbeClassifier` start alike. The
    run's seed is the one torch's generator was last seeded with when the
    weights are initialised: the runner's (``randomness.seed``, or the one
    it drew). Checkpoints are ``ImageClassifier``'s.
    """

    def __init__(self, backbone: dict, neck: Optional[dict] = None,
                 head: Optional[dict] = None, **kwargs) -> None:
        norm, std = neck_norm(neck), head_std(head or {})
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        self.setting = ProbeSetting(max(self.backbone.out_indices) + 1, norm)
        self._head_std = std

    def init_weights(self) -> None:
        """MMPretrain's initialisation, then the head's from its setting."""
        super().init_weights()
        init_probe_head(self.head, torch.initial_seed(), self.setting,
                        self._head_std)
