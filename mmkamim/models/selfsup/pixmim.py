"""PixMIM: MAE with low-frequency targets."""
from mmpretrain.registry import MODELS

from .kamae import KAMAE


@MODELS.register_module()
class PixMIM(KAMAE):
    """PixMIM on MMPretrain's MAE: :class:`KAMAE` without keypoint weights.

    Implementation of `PixMIM: Rethinking Pixel Reconstruction in Masked
    Image Modeling <https://arxiv.org/abs/2303.02416>`_: MAE (``MAEViT``,
    ``MAEPretrainDecoder``, ``MAEPretrainHead``) whose reconstruction target
    is the low-frequency part of the image, from ``target_generator``
    (``LowFreqTargetGenerator``). Use it with the conservative "simple
    resized crop" pipeline of its configs; ``KAMAE`` with the same target
    generator adds keypoint weights.

    Args:
        target_generator (dict): Target generator config (required).
        **kwargs: ``KAMAE``'s other arguments, except ``keypoint_weights``.
    """

    def __init__(self, *args, target_generator: dict, **kwargs) -> None:
        super().__init__(
            *args,
            target_generator=target_generator,
            keypoint_weights=False,
            **kwargs)
