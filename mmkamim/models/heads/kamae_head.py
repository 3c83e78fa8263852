"""MAE-family head whose per-pixel errors may be weighted by keypoints."""
from typing import Optional

import torch
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.registry import MODELS

from ...utils.deprecated_names import register_deprecated_name
from ..utils import expand_cells


@MODELS.register_module()
class KAMAEHead(MAEPretrainHead):
    """MAE's head with KAMIM's keypoint weights (``KAMIMHead``'s MAE twin).

    Every pixel's squared error (against the normalised-pixel target when
    ``norm_pix`` is set) is multiplied by the weight W of its w_ps x w_ps
    cell before MAE averages it over its patch; the patch losses are then
    averaged over the masked patches as in MAE. Without weights, or with W
    all ones, it is MAE's loss. Computed in float32 even inside autocast.

    Args:
        loss (dict): Config of a loss that takes ``(pred, target, mask,
            weight)``, e.g. ``WeightedPixelReconstructionLoss`` with
            ``criterion='L2'``.
        norm_pix (bool): Normalise each target patch. Defaults to False.
        patch_size (int): Patch size in pixels. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
    """

    def loss(self,
             pred: torch.Tensor,
             target: torch.Tensor,
             mask: torch.Tensor,
             kp_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the keypoint-weighted MAE loss.

        Args:
            pred (torch.Tensor): Predicted patches (B, L, p^2 * C).
            target (torch.Tensor): Target images (B, C, H, W).
            mask (torch.Tensor): (B, L), 1 for masked patches.
            kp_weight (torch.Tensor, optional): Keypoint weights
                (B, H / w_ps, W / w_ps). None weighs every pixel 1.

        Returns:
            torch.Tensor: Scalar float32 loss.
        """
        weight = None
        if kp_weight is not None:
            pixels = expand_cells(kp_weight.float(), *target.shape[-2:])
            weight = self.patchify(
                pixels.expand(-1, self.in_channels, -1, -1))
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return self.loss_module(pred.float(),
                                    self.construct_target(target.float()),
                                    mask, weight)


# The name of the first release, kept for one more.
register_deprecated_name(MODELS, 'KeypointAwareMAEHead', KAMAEHead,
                         removed_in='0.2.0')
