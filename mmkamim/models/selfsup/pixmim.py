"""PixMIM: MAE with low-frequency targets."""
from typing import Dict, List

import torch
from mmpretrain.models.selfsup import MAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class PixMIM(MAE):
    """PixMIM on MMPretrain's MAE.

    Implementation of `PixMIM: Rethinking Pixel Reconstruction in Masked
    Image Modeling <https://arxiv.org/abs/2303.02416>`_: MAE (``MAEViT``,
    ``MAEPretrainDecoder``, ``MAEPretrainHead``) whose reconstruction target
    is the low-frequency part of the image, from ``target_generator``
    (``LowFreqTargetGenerator``). Use it with the conservative "simple
    resized crop" pipeline of its configs.

    Args:
        backbone (dict): Backbone config (``MAEViT``).
        neck (dict): Decoder config (``MAEPretrainDecoder``).
        head (dict): Head config (``MAEPretrainHead``).
        target_generator (dict): Target generator config.
        **kwargs: Other ``MAE`` arguments (``pretrained``,
            ``data_preprocessor``, ``init_cfg``).
    """

    def __init__(self, *args, target_generator: dict, **kwargs) -> None:
        # The same arguments as MAE, with the target generator required.
        super().__init__(*args, target_generator=target_generator, **kwargs)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Reconstruct the low-frequency image of the masked patches.

        Args:
            inputs (torch.Tensor): Normalised images (B, 3, H, W).
            data_samples (list[DataSample]): Unused.

        Returns:
            dict[str, torch.Tensor]: ``{'loss': scalar}``.
        """
        target = self.target_generator(inputs)
        latent, mask, ids_restore = self.backbone(inputs)
        pred = self.neck(latent, ids_restore)
        return dict(loss=self.head.loss(pred, target, mask))
