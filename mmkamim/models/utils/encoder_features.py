"""The features a linear probe reads, from any of our encoders, unmasked."""
import inspect
from typing import Optional, Sequence

import torch
from torch import nn


def _unmasked(backbone: nn.Module, images: torch.Tensor) -> None:
    """Run an encoder on whole images: ``SimMIMViT``, MMPretrain's
    ``MAEViT`` and ``SimMIMSwinTransformer`` take a mask argument, and
    ``MAEViT`` masks unless it is None (False still masks)."""
    if 'mask' in inspect.signature(backbone.forward).parameters:
        backbone(images, mask=None)
    else:
        backbone(images)


def encoder_features(backbone: nn.Module,
                     images: torch.Tensor,
                     layers: Optional[Sequence[int]] = None,
                     token: str = 'patch_mean') -> torch.Tensor:
    """What our linear probes read, per image, as one vector.

    ViTs (``VisionTransformer`` and its pre-training and probe variants):
    the average of the patch tokens after each block of ``layers`` (1-based;
    default the last block the backbone has, which for a ``LinearProbeViT``
    is the probed one), or its class token (``token='cls'``), several
    blocks concatenated. Swin: the last stage's tokens averaged, before the
    final LayerNorm, as the released Swin probe reads them. The encoder runs
    on the whole image, never masked.

    Args:
        backbone (nn.Module): The encoder, in eval mode.
        images (torch.Tensor): (B, 3, H, W) normalised images.
        layers (Sequence[int], optional): ViT blocks, 1-based.
        token (str): ``'patch_mean'`` or ``'cls'`` (ViT only).

    Returns:
        torch.Tensor: (B, C x len(layers)) float32 features, not yet
        L2-normalised.
    """
    if token not in ('patch_mean', 'cls'):
        raise ValueError(f"token must be 'patch_mean' or 'cls', got "
                         f'{token!r}')
    captured = []
    if hasattr(backbone, 'stages'):  # Swin
        if layers is not None or token != 'patch_mean':
            raise ValueError('Swin features are the last stage averaged: '
                             'layers and token apply to ViTs only')
        handles = [backbone.stages[-1].register_forward_hook(
            lambda _m, _i, out: captured.append(out[0].mean(1)))]
    else:
        blocks = backbone.layers
        layers = list(layers or [len(blocks)])
        bad = [n for n in layers if not 1 <= n <= len(blocks)]
        if bad:
            raise ValueError(f'layers {bad}: this ViT has blocks 1 to '
                             f'{len(blocks)}')
        extra = getattr(backbone, 'num_extra_tokens', 1)

        def keep(_module, _inputs, out):
            captured.append(out[:, 0] if token == 'cls' else
                            out[:, extra:].mean(1))

        handles = [blocks[n - 1].register_forward_hook(keep) for n in layers]
    try:
        _unmasked(backbone, images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat(captured, 1).float()
