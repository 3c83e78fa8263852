"""Average pooling and LayerNorm before a linear probe."""
from typing import Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.models.necks import GlobalAveragePooling
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class LayerNormNeck(BaseModule):
    """Global average pooling followed by a LayerNorm over channels.

    KAMIM's Table 5 probes with a LayerNorm between the average pooling and
    the linear layer; this neck replaces ``GlobalAveragePooling`` for that.

    Args:
        in_channels (int): Number of channels C.
        avg_pool (bool): Average-pool (B, C, H, W) maps to (B, C) first.
            Defaults to True.
        eps (float): LayerNorm epsilon. Defaults to 1e-6.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 avg_pool: bool = True,
                 eps: float = 1e-6,
                 init_cfg: dict = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pool = GlobalAveragePooling() if avg_pool else None
        self.norm = nn.LayerNorm(in_channels, eps=eps)

    def forward(self,
                inputs: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor, ...]:
        """Pool (if set) and normalise each feature of ``inputs``.

        Args:
            inputs (tuple[torch.Tensor]): (B, C, H, W) maps, or (B, C)
                features when ``avg_pool`` is False.

        Returns:
            tuple[torch.Tensor]: (B, C) normalised features.
        """
        if self.pool is not None:
            inputs = self.pool(inputs)
        return tuple(self.norm(x) for x in inputs)
