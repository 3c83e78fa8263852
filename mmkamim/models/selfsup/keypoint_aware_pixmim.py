"""PixMIM with KAMIM's keypoint weighting."""
from typing import List, Optional, Union

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

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 target_generator: dict,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            target_generator=target_generator,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
