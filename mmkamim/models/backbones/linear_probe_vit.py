"""Frozen ViT read at an intermediate block, for linear probing."""
from typing import Sequence, Union

from mmpretrain.models import VisionTransformer
from mmpretrain.registry import MODELS

from ..utils import FrozenBackboneMixin, keep_first_blocks


@MODELS.register_module()
class LinearProbeViT(FrozenBackboneMixin, VisionTransformer):
    """MMPretrain's ``VisionTransformer``, frozen, cut after the probed block.

    KAMIM probes ViTs at the 8th block's patch tokens (``out_indices=7``),
    without the final LayerNorm. Blocks after the last output index cannot
    change the output, so they are not built: probing block 8 of a ViT-B
    costs 8 blocks, not 12. Weights load from a full ``VisionTransformer``
    or ``SimMIMViT`` checkpoint; the keys of the blocks not built, of the
    final norm and of the mask token are ignored. The whole backbone is
    frozen and stays in eval mode (see :class:`FrozenBackboneMixin`).

    Args:
        arch (str | dict): ViT architecture, as for ``VisionTransformer``.
            Defaults to ``'base'``.
        out_indices (int | Sequence[int]): Blocks (0-based) whose outputs
            are returned. Defaults to 7, the 8th block.
        out_type (str): Output type, as for ``VisionTransformer``.
            Defaults to ``'featmap'``, the (B, C, H/16, W/16) patch tokens.
        **kwargs: Other ``VisionTransformer`` arguments. ``final_norm`` is
            applied only when the last block of ``arch`` is probed.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 out_indices: Union[int, Sequence[int]] = 7,
                 out_type: str = 'featmap',
                 **kwargs) -> None:
        super().__init__(
            arch=arch, out_indices=out_indices, out_type=out_type, **kwargs)
        last = max(self.out_indices)
        if last < self.num_layers - 1:
            keep_first_blocks(self, last + 1)
            if hasattr(self, 'ln1'):
                del self.ln1
        self.freeze_all()
