"""Frozen Swin Transformer, for linear probing."""
from mmpretrain.models import SwinTransformer
from mmpretrain.registry import MODELS
from torch import nn

from ..utils import FrozenBackboneMixin


@MODELS.register_module()
class LinearProbeSwin(FrozenBackboneMixin, SwinTransformer):
    """MMPretrain's ``SwinTransformer``, wholly frozen and in eval mode.

    KAMIM probes Swin at its last stage (``out_indices=(3, )``). The released
    probe reads Hugging Face's last ``hidden_states``, which come before
    Swin's final LayerNorm, so by default the output norms are not built:
    the features are the last stage's raw (B, C, H/32, W/32) map. Weights
    load from a ``SwinTransformer`` or ``SimMIMSwinTransformer`` checkpoint
    (its mask token, and its final norm unless ``out_norm``, are ignored).

    Args:
        out_norm (bool): Apply MMPretrain's per-output LayerNorm (``norm3``
            for the last stage, the pre-training model's final norm).
            Defaults to False, as the released probe.
        *args, **kwargs: ``SwinTransformer``'s arguments.
    """

    def __init__(self, *args, out_norm: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not out_norm:
            for i in self.out_indices:
                # SwinTransformer.forward looks the norm up by name.
                setattr(self, f'norm{i}', nn.Identity())
        self.freeze_all()
