"""The features a linear probe reads, from any of our encoders, unmasked."""
import inspect
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

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


def check_feature_settings(backbone: nn.Module,
                           layers: Optional[Sequence[int]] = None,
                           token: str = 'patch_mean',
                           prefix: str = '') -> None:
    """Refuse settings :func:`encoder_features` cannot read from this
    backbone, naming the setting to change.

    Args:
        backbone (nn.Module): The encoder.
        layers (Sequence[int], optional): ViT blocks, 1-based.
        token (str): ``'patch_mean'`` or ``'cls'``.
        prefix (str): Where the settings live in the config, e.g.
            ``'val_cfg.'``, for the message.

    Raises:
        ValueError: A setting that does not fit the backbone.
    """
    kind = type(backbone).__name__
    if token not in ('patch_mean', 'cls'):
        raise ValueError(f"{prefix}token={token!r}: it must be 'patch_mean' "
                         "or 'cls'")
    if hasattr(backbone, 'stages'):  # Swin
        if layers is not None:
            raise ValueError(
                f'{prefix}layers={layers!r} reads ViT blocks, but a {kind} '
                f'is read at its last stage: set {prefix}layers=None')
        if token != 'patch_mean':
            raise ValueError(
                f"{prefix}token='cls' reads a class token, which a {kind} "
                f"does not have: set {prefix}token='patch_mean'")
        return
    blocks = len(backbone.layers)
    bad = [n for n in (layers or []) if not 1 <= n <= blocks]
    if bad:
        raise ValueError(f'{prefix}layers={list(layers)!r}: this {kind} has '
                         f'blocks 1 to {blocks}')
    if token == 'cls' and not getattr(backbone, 'with_cls_token', True):
        raise ValueError(
            f"{prefix}token='cls': this {kind} has no class token "
            f"(with_cls_token=False): set {prefix}token='patch_mean'")


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
    check_feature_settings(backbone, layers, token)
    captured = []
    if hasattr(backbone, 'stages'):  # Swin
        handles = [backbone.stages[-1].register_forward_hook(
            lambda _m, _i, out: captured.append(out[0].mean(1)))]
    else:
        blocks = backbone.layers
        layers = list(layers or [len(blocks)])
        extra = getattr(backbone, 'num_extra_tokens', 1)

        def keep(_module, _inputs, out):
            captured.append(out[:, 0] if token == 'cls' else
                            out[:, extra:].mean(1))

        handles = [blocks[n - 1].register_forward_hook(keep) for n in layers]
    try:
        with blocks_up_to(backbone, max(layers or [0])):
            _unmasked(backbone, images)
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat(captured, 1).float()


def keep_first_blocks(vit: nn.Module, count: int) -> None:
    """Keep a ViT's first ``count`` blocks, and no final LayerNorm (it
    follows the last block of the full network): the blocks after the
    deepest one read cannot change what is read, so they are not run.

    Args:
        vit (nn.Module): A ``VisionTransformer`` (or subclass), changed in
            place.
        count (int): Blocks to keep, 1 to ``len(vit.layers)``.
    """
    vit.layers = vit.layers[:count]
    vit.final_norm = False


@contextmanager
def blocks_up_to(backbone: nn.Module, count: int) -> Iterator[None]:
    """Run a ViT's forward through its first ``count`` blocks only
    (:func:`keep_first_blocks`), as long as the block runs; all of it
    again after. ``count`` 0 (a Swin, or the last block) changes nothing."""
    if not 0 < count < len(getattr(backbone, 'layers', ())) or hasattr(
            backbone, 'stages'):
        yield
        return
    layers, final_norm = backbone.layers, backbone.final_norm
    keep_first_blocks(backbone, count)
    try:
        yield
    finally:
        backbone.layers, backbone.final_norm = layers, final_norm
