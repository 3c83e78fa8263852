"""KAMIM: keypoint-aware SimMIM."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import SimMIM
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import stack_field


@MODELS.register_module()
class KAMIM(SimMIM):
    """Keypoint-Aware Masked Image Modelling.

    SimMIM whose head weighs each masked pixel's reconstruction error by the
    keypoint density of its cell: the ``kp_weight`` that
    ``KAMIMDataPreprocessor`` (or the ``KeypointDensity`` transform) puts in
    every data sample is handed to a ``KAMIMHead``. Everything else
    (backbone, neck, masking, feature extraction) behaves as MMPretrain's
    ``SimMIM``.
    """

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the keypoint-weighted reconstruction loss.

        Args:
            inputs (torch.Tensor): Normalised images (B, 3, H, W).
            data_samples (list[DataSample]): Each with ``mask``
                (H / patch, W / patch) and ``kp_weight`` (H / w_ps, W / w_ps).

        Returns:
            dict[str, torch.Tensor]: ``{'loss': scalar}``.
        """
        mask = torch.stack([sample.mask for sample in data_samples])
        patch = self.head.patch_size
        grid = (inputs.shape[-2] // patch, inputs.shape[-1] // patch)
        if tuple(mask.shape[-2:]) != grid:
            raise ValueError(
                f'the masks are {tuple(mask.shape[-2:])} patches, but '
                f'{tuple(inputs.shape[-2:])} images in {patch} px patches '
                f"need {grid}: set SimMIMMaskGenerator's input_size to the "
                f"image size and model_patch_size={patch}, the backbone's "
                'patch size')
        kp_weight = stack_field(data_samples, 'kp_weight', inputs.device)
        latent = self.backbone(inputs, mask)
        reconstruction = self.neck(latent[0])
        loss = self.head.loss(reconstruction, inputs, mask, kp_weight)
        return dict(loss=loss)
