"""Pixel reconstruction loss with a per-pixel weight."""
from typing import Optional

import torch
from mmpretrain.models.losses import PixelReconstructionLoss
from mmpretrain.registry import MODELS


@MODELS.register_module()
class WeightedPixelReconstructionLoss(PixelReconstructionLoss):
    """MMPretrain's ``PixelReconstructionLoss`` with an optional weight map.

    ``loss = sum(mask * weight * penalty(pred, target)) / sum(mask) /
    channel``, where the penalty is L1 or L2 per element. Without a weight it
    is ``PixelReconstructionLoss``.

    Args:
        criterion (str): ``'L1'`` or ``'L2'``.
        channel (int, optional): Number of channels to average over.
            Defaults to None (1).
    """

    def forward(self,
                pred: torch.Tensor,
                target: torch.Tensor,
                mask: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the weighted reconstruction loss.

        Args:
            pred (torch.Tensor): Prediction, e.g. (B, C, H, W).
            target (torch.Tensor): Target of the same shape.
            mask (torch.Tensor, optional): 1 where the loss counts,
                broadcastable to ``pred`` (e.g. (B, 1, H, W)).
            weight (torch.Tensor, optional): Positive weights broadcastable to
                ``pred`` (e.g. (B, 1, H, W)).

        Returns:
            torch.Tensor: Scalar loss.
        """
        if weight is None:
            return super().forward(pred, target, mask)
        loss = self.penalty(pred, target) * weight
        if mask is None:
            return loss.mean()
        return (loss * mask).sum() / mask.sum() / self.channel
