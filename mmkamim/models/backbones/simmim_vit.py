"""Plain ViT with a SimMIM mask token."""
from typing import Optional, Tuple

import torch
from mmpretrain.models.selfsup.maskfeat import MaskFeatViT
from mmpretrain.registry import MODELS


@MODELS.register_module()
class SimMIMViT(MaskFeatViT):
    """Vision Transformer for SimMIM and KAMIM pre-training.

    MMPretrain's ``VisionTransformer`` with a learnable mask token that
    replaces the patch embeddings of masked patches before the class token
    and the position embeddings are added (the masking of MMPretrain's
    ``MaskFeatViT``, which this class reuses). With a mask it returns the
    final-normalised patch tokens as a feature map for SimMIM's
    ``SimMIMLinearDecoder``; without one it is the plain ViT, so its weights,
    apart from ``mask_token``, load into ``VisionTransformer`` for linear
    probing and fine-tuning.

    Args:
        arch (str | dict): ViT architecture, as for ``VisionTransformer``
            (e.g. ``'deit-tiny'``, ``'deit-small'``, ``'base'``).
            Defaults to ``'base'``.
        img_size (int): Input image size in pixels. Defaults to 192.
        patch_size (int): Patch size in pixels. Defaults to 16.
        out_type (str): Output of the mask-free forward, as for
            ``VisionTransformer``. Defaults to ``'featmap'``.
        **kwargs: Other arguments of ``MaskFeatViT`` / ``VisionTransformer``.
    """

    def __init__(self,
                 arch: str = 'base',
                 img_size: int = 192,
                 patch_size: int = 16,
                 out_type: str = 'featmap',
                 **kwargs) -> None:
        super().__init__(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            out_type=out_type,
            **kwargs)

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:
        """Encode images, replacing masked patches by the mask token.

        Args:
            x (torch.Tensor): Images (B, 3, H, W).
            mask (torch.Tensor, optional): Patch mask (B, H / patch_size,
                W / patch_size), 1 where a patch is masked. ``None`` runs the
                plain ``VisionTransformer`` forward.

        Returns:
            tuple[torch.Tensor]: With a mask, one feature map
            (B, C, H / patch_size, W / patch_size) of the last layer; without
            one, ``VisionTransformer``'s outputs.
        """
        if mask is None:
            return super().forward(x, None)
        batch, rows, cols = mask.shape
        tokens = super().forward(x, mask.flatten(1))
        patch_tokens = tokens[:, self.num_extra_tokens:]
        return (patch_tokens.transpose(1, 2).reshape(batch, -1, rows, cols), )
