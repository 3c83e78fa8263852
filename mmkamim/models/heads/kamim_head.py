"""SimMIM head whose loss is weighted by keypoint density."""
from typing import Optional

import torch
from mmpretrain.models.heads import SimMIMHead
from mmpretrain.registry import MODELS

from ..utils import expand_cells


@MODELS.register_module()
class KAMIMHead(SimMIMHead):
    """Head for KAMIM pre-training: SimMIM's head with keypoint weights.

    ``loss = sum over masked pixels of W * |pred - target| /
    (masked pixels x channels)``, with W repeated from its
    ``w_ps`` x ``w_ps`` cells to pixels. It is computed in float32 even
    inside fp16/bf16 autocast, since W reaches e^10 = 22026 at T = 0.1.

    Args:
        patch_size (int): Size of a mask patch (the encoder's patch) in
            pixels.
        loss (dict): Config of a loss that takes ``(pred, target, mask,
            weight)``, e.g. ``WeightedPixelReconstructionLoss``.
    """

    def loss(self,
             pred: torch.Tensor,
             target: torch.Tensor,
             mask: torch.Tensor,
             kp_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the keypoint-weighted reconstruction loss.

        Args:
            pred (torch.Tensor): Reconstructed images (B, C, H, W).
            target (torch.Tensor): Target images (B, C, H, W).
            mask (torch.Tensor): Patch mask (B, H / patch_size,
                W / patch_size), 1 where masked.
            kp_weight (torch.Tensor, optional): Keypoint weights
                (B, H / w_ps, W / w_ps). None weighs every pixel 1, as SimMIM.

        Returns:
            torch.Tensor: Scalar float32 loss.
        """
        height, width = target.shape[-2:]
        patch = self.patch_size
        pixel_mask = mask.repeat_interleave(patch, 1).repeat_interleave(
            patch, 2).unsqueeze(1)
        pixel_weight = (None if kp_weight is None else expand_cells(
            kp_weight, height, width).float())
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return self.loss_module(pred.float(), target.float(), pixel_mask,
                                    pixel_weight)
