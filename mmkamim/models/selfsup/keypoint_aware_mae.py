"""MAE with KAMIM's keypoint weighting."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import MAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import stack_field


@MODELS.register_module()
class KeypointAwareMAE(MAE):
    """MAE whose per-patch loss is weighted by keypoint density.

    KAMIM's weighting as a plug-in for MAE: the ``kp_weight`` that
    ``KAMIMDataPreprocessor`` (or the ``KeypointDensity`` transform) puts in
    every data sample is handed to a
    ``KeypointAwareMAEHead``. With a ``target_generator`` (for example
    ``LowFreqTargetGenerator``) the target is generated from the input, which
    makes it keypoint-aware PixMIM (see ``KeypointAwarePixMIM``).
    """

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the keypoint-weighted reconstruction loss.

        Args:
            inputs (torch.Tensor): Normalised images (B, 3, H, W).
            data_samples (list[DataSample]): Each with ``kp_weight``
                (H / w_ps, W / w_ps).

        Returns:
            dict[str, torch.Tensor]: ``{'loss': scalar}``.
        """
        kp_weight = stack_field(data_samples, 'kp_weight', inputs.device)
        target = (inputs if self.target_generator is None else
                  self.target_generator(inputs))
        latent, mask, ids_restore = self.backbone(inputs)
        pred = self.neck(latent, ids_restore)
        return dict(loss=self.head.loss(pred, target, mask, kp_weight))
