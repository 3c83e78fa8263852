"""KAMIM: keypoint-aware SimMIM."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import SimMIM
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def stack_field(data_samples: List[DataSample], key: str,
                device: torch.device) -> torch.Tensor:
    """Stack a per-sample array field of the data samples into a batch.

    Args:
        data_samples (list[DataSample]): The batch's data samples.
        key (str): Field name, e.g. ``'kp_weight'``.
        device (torch.device): Device of the result.

    Returns:
        torch.Tensor: (B, ...) stacked values.
    """
    missing = [i for i, sample in enumerate(data_samples) if key not in sample]
    if missing:
        raise KeyError(
            f'data samples {missing} have no {key!r}: add KeypointDensity to '
            f"the pipeline and {key!r} to PackInputs' algorithm_keys")
    return torch.stack([
        torch.as_tensor(sample.get(key)) for sample in data_samples
    ]).to(device)


@MODELS.register_module()
class KAMIM(SimMIM):
    """Keypoint-Aware Masked Image Modelling.

    SimMIM whose head weighs each masked pixel's reconstruction error by the
    keypoint density of its cell: the ``kp_weight`` that ``KeypointDensity``
    puts in every data sample is handed to a ``KAMIMHead``. Everything else
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
        kp_weight = stack_field(data_samples, 'kp_weight', inputs.device)
        latent = self.backbone(inputs, mask)
        reconstruction = self.neck(latent[0])
        loss = self.head.loss(reconstruction, inputs, mask, kp_weight)
        return dict(loss=loss)
