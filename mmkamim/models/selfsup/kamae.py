"""KAMAE: MAE-family pre-training with optional keypoint weights."""
from typing import Dict, List, Optional

import torch
from mmpretrain.models.selfsup import MAE
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...utils.deprecated_names import register_deprecated_name
from ..utils import stack_field


@MODELS.register_module()
class KAMAE(MAE):
    """MAE, optionally with a target generator and KAMIM's keypoint weights.

    One algorithm for the MAE family: the reconstruction target is the input
    or, with a ``target_generator``, what it generates from the input (e.g.
    PixMIM's ``LowFreqTargetGenerator``); with ``keypoint_weights`` the
    ``kp_weight`` that ``KAMIMDataPreprocessor`` (or the ``KeypointDensity``
    transform) puts in every data sample goes to a ``KAMAEHead``, which
    weighs each pixel's error by its cell's weight. MAE's masking, encoder
    and decoder are unchanged. :class:`PixMIM` is the published method as a
    preset of this class.

    Args:
        backbone (dict): ``MAEViT`` config.
        neck (dict): ``MAEPretrainDecoder`` config.
        head (dict): ``KAMAEHead`` config (``MAEPretrainHead`` also serves
            without keypoint weights).
        target_generator (dict, optional): Target generator config. None
            reconstructs the (normalised) input, as MAE.
        keypoint_weights (bool): Weigh the loss by every sample's
            ``kp_weight``; a sample without one stops the run. Defaults to
            True.
        **kwargs: Other ``MAE`` arguments (``pretrained``,
            ``data_preprocessor``, ``init_cfg``).
    """

    def __init__(self,
                 *args,
                 target_generator: Optional[dict] = None,
                 keypoint_weights: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, target_generator=target_generator, **kwargs)
        self.keypoint_weights = keypoint_weights

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Compute the (keypoint-weighted) reconstruction loss.

        Args:
            inputs (torch.Tensor): Normalised images (B, 3, H, W).
            data_samples (list[DataSample]): With ``keypoint_weights``, each
                with ``kp_weight`` (H / w_ps, W / w_ps).

        Returns:
            dict[str, torch.Tensor]: ``{'loss': scalar}``.
        """
        weights = []
        if self.keypoint_weights:
            weights = [stack_field(data_samples, 'kp_weight', inputs.device)]
        target = (inputs if self.target_generator is None else
                  self.target_generator(inputs))
        latent, mask, ids_restore = self.backbone(inputs)
        pred = self.neck(latent, ids_restore)
        return dict(loss=self.head.loss(pred, target, mask, *weights))


# The names of the first release, kept for one more.
for _old in ('KeypointAwareMAE', 'KeypointAwarePixMIM'):
    register_deprecated_name(MODELS, _old, KAMAE, removed_in='0.2.0')
