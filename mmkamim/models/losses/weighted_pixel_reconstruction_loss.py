"""Pixel reconstruction loss with a per-pixel weight."""
from typing import Optional

import torch
from mmpretrain.models.losses import PixelReconstructionLoss
from mmpretrain.registry import MODELS


@MODELS.register_module()
class WeightedPixelReconstructionLoss(PixelReconstructionLoss):
    """MMPretrain's ``PixelReconstructionLoss`` with an optional weight map.

    The L1 or L2 penalty of every element is multiplied by its weight, then
    reduced as ``PixelReconstructionLoss`` does: (B, L, D) token losses are
    averaged over D first (MAE), and with a mask the result is
    ``sum(mask * loss) / sum(mask) / channel``. Without a weight it is
    ``PixelReconstructionLoss``, except where nothing is masked: there
    MMPretrain divides 0 by 0 (NaN); this loss is 0, with a zero gradient.

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
            pred (torch.Tensor): Prediction, (B, C, H, W) images or
                (B, L, D) tokens.
            target (torch.Tensor): Target of the same shape.
            mask (torch.Tensor, optional): 1 where the loss counts:
                (B, 1, H, W) for images, (B, L) for tokens.
            weight (torch.Tensor, optional): Positive weights broadcastable to
                ``pred``.

        Returns:
            torch.Tensor: Scalar loss.
        """
        loss = self.penalty(pred, target)
        if weight is not None:
            loss = loss * weight
        if loss.dim() == 3:
            loss = loss.mean(dim=-1)
        if mask is None:
            return loss.mean()
        return (loss * mask).sum() / mask.sum().clamp(min=1) / self.channel
