"""Frozen Swin Transformer, for linear probing."""
from mmpretrain.models import SwinTransformer
from mmpretrain.registry import MODELS

from ..utils import FrozenBackboneMixin


@MODELS.register_module()
class LinearProbeSwin(FrozenBackboneMixin, SwinTransformer):
    """MMPretrain's ``SwinTransformer``, wholly frozen and in eval mode.

    KAMIM probes Swin at its last stage (``out_indices=(3, )``, with that
    stage's norm). Takes ``SwinTransformer``'s arguments; weights load from a
    ``SimMIMSwinTransformer`` checkpoint (its mask token is ignored).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.freeze_all()
