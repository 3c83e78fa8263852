"""PixMIM with KAMIM's keypoint weighting."""
from mmpretrain.registry import MODELS

from .keypoint_aware_mae import KeypointAwareMAE


@MODELS.register_module()
class KeypointAwarePixMIM(KeypointAwareMAE):
    """PixMIM whose per-patch loss is weighted by keypoint density.

    ``KeypointAwareMAE`` with a required ``target_generator``
    (``LowFreqTargetGenerator``): the masked patches' low-frequency targets
    are reconstructed, each pixel's error weighted by its cell's keypoint
    weight.
    """

    def __init__(self, *args, target_generator: dict, **kwargs) -> None:
        # The same arguments as MAE, with the target generator required.
        super().__init__(*args, target_generator=target_generator, **kwargs)
