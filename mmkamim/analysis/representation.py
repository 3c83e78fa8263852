"""Per-layer analyses of a ViT's attention and tokens (KAMIM paper, sec. 5).

The definitions follow the analyses the KAMIM authors' notebooks use
(probing-vits, how-do-vits-work, cl-vs-mim):

- mean attention distance, per head: the attention-weighted mean pixel
  distance between patch centres (patch size x grid distance), averaged
  over the queries. The class token's row and column are dropped and every
  row renormalised, so only patch-to-patch attention counts;
- normalised mutual information of attention, per head: queries uniform,
  ``p(k)`` the mean over queries of ``A[q, k]``,
  ``MI = sum_q p(q) sum_k A[q, k] log(A[q, k] / p(k))``,
  ``NMI = MI / sqrt(H(q) H(k))`` (class token handled as above);
- Fourier profile: each layer's patch tokens as (C, h, w) maps,
  ``log(|FFT2| + 1e-6)``, centred, averaged over images and channels, read
  along the half diagonal from the centre outwards, minus its zero-frequency
  value (relative log amplitude against frequency 0..pi).

Attention weights are recorded by swapping each MMPretrain attention
module's ``scaled_dot_product_attention`` for one that keeps them; nothing
in MMPretrain is edited.
"""
import contextlib
from typing import Dict, Iterator, List

import numpy as np
import torch
from torch import nn


def _recording_attention(store: List[torch.Tensor]):

    def attention(query, key, value, attn_mask=None, dropout_p=0.0,
                  **kwargs):
        if attn_mask is not None:
            raise ValueError('attention masks are not supported here')
        weights = torch.softmax(
            query @ key.transpose(-2, -1) * query.shape[-1]**-0.5, dim=-1)
        store.append(weights.detach())
        return weights @ value

    return attention


@contextlib.contextmanager
def record_attention(vit: nn.Module) -> Iterator[List[torch.Tensor]]:
    """Record every block's attention weights during forward passes.

    Args:
        vit (nn.Module): MMPretrain ``VisionTransformer`` (its ``layers``).

    Yields:
        list[torch.Tensor]: Filled with one (B, heads, N, N) tensor per
        block and forward pass, in order.
    """
    store: List[torch.Tensor] = []
    saved = []
    for layer in vit.layers:
        saved.append(layer.attn.scaled_dot_product_attention)
        layer.attn.scaled_dot_product_attention = _recording_attention(store)
    try:
        yield store
    finally:
        for layer, original in zip(vit.layers, saved):
            layer.attn.scaled_dot_product_attention = original


def patch_attention(attention: torch.Tensor,
                    extra_tokens: int) -> torch.Tensor:
    """Patch-to-patch attention: the class (and other extra) tokens' rows and
    columns dropped, rows renormalised to sum to 1.

    Args:
        attention (torch.Tensor): (..., N, N) weights.
        extra_tokens (int): Leading tokens that are not patches.

    Returns:
        torch.Tensor: (..., N - extra, N - extra).
    """
    patches = attention[..., extra_tokens:, extra_tokens:]
    return patches / patches.sum(-1, keepdim=True)


def patch_distances(grid: int, patch_size: int) -> torch.Tensor:
    """(grid^2, grid^2) pixel distances between patch centres."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid),
                                indexing='ij')
    centres = torch.stack([rows.flatten(), cols.flatten()], 1).double()
    return torch.cdist(centres, centres) * patch_size


def mean_attention_distance(attention: torch.Tensor,
                            patch_size: int) -> torch.Tensor:
    """Mean attention distance of each head, in pixels.

    Args:
        attention (torch.Tensor): (B, heads, P, P) patch-to-patch weights
            (rows sum to 1), P = grid^2.
        patch_size (int): Patch side in pixels.

    Returns:
        torch.Tensor: (heads, ) mean over images and queries.
    """
    grid = int(round(attention.shape[-1]**0.5))
    distances = patch_distances(grid, patch_size).to(attention)
    per_query = (attention.double() * distances.double()).sum(-1)
    return per_query.mean((0, 2))


def attention_nmi(attention: torch.Tensor) -> torch.Tensor:
    """Normalised mutual information between query and attended key.

    Args:
        attention (torch.Tensor): (B, heads, P, P) weights, rows summing to 1.

    Returns:
        torch.Tensor: (heads, ) NMI, averaged over images; 1 when every
        query attends only to itself, 0 when all attend alike.
    """
    a = attention.double()
    queries = a.shape[-2]
    p_k = a.mean(-2, keepdim=True)  # p(k), queries uniform
    eps = torch.finfo(torch.float64).tiny
    mi = (a * (torch.log(a + eps) - torch.log(p_k + eps))).sum(
        (-2, -1)) / queries
    h_q = np.log(queries)
    h_k = -(p_k * torch.log(p_k + eps)).sum((-2, -1))
    return (mi / torch.sqrt(h_q * h_k)).mean(0)


def fourier_profile(tokens: torch.Tensor) -> np.ndarray:
    """Relative log amplitude along the half diagonal of the spectrum.

    Args:
        tokens (torch.Tensor): (B, C, h, w) patch-token maps.

    Returns:
        np.ndarray: (h // 2 + 1, ) log amplitude at frequencies 0..pi along
        the diagonal (for even h; up to below pi for odd h), minus the value
        at frequency 0.
    """
    spectrum = torch.fft.fftshift(torch.fft.fft2(tokens.double()),
                                  dim=(-2, -1))
    amplitude = torch.log(spectrum.abs() + 1e-6).mean((0, 1))
    size = amplitude.shape[-1]
    centre = size // 2
    steps = torch.arange(centre, size)
    diagonal = amplitude[steps, steps].numpy()
    if size % 2 == 0:
        # Frequency pi sits at index 0 of the shifted spectrum.
        diagonal = np.append(diagonal, amplitude[0, 0].item())
    return diagonal - diagonal[0]


def analyse_layers(vit: nn.Module, images: torch.Tensor) -> Dict:
    """Attention distance, NMI and Fourier profile of every block.

    Args:
        vit (nn.Module): MMPretrain ``VisionTransformer`` in eval mode.
        images (torch.Tensor): (B, 3, H, W) normalised images.

    Returns:
        dict: ``attention_distance`` and ``nmi``, (layers, heads) arrays;
        ``fourier``, (layers, h // 2 + 1); ``last_tokens``, (B, P, C) patch
        tokens of the last block; ``tokens``, every block's (B, P, C).
    """
    tokens: List[torch.Tensor] = []
    hooks = [
        layer.register_forward_hook(
            lambda _m, _i, out: tokens.append(out.detach()))
        for layer in vit.layers
    ]
    extra = vit.num_extra_tokens
    patch = vit.patch_embed.projection.kernel_size[0]
    try:
        with torch.no_grad(), record_attention(vit) as attention:
            vit(images)
    finally:
        for hook in hooks:
            hook.remove()
    grid = vit.patch_resolution
    distance, nmi, fourier = [], [], []
    for weights, out in zip(attention, tokens):
        patches = patch_attention(weights, extra)
        distance.append(mean_attention_distance(patches, patch).numpy())
        nmi.append(attention_nmi(patches).numpy())
        maps = out[:, extra:].transpose(1, 2).reshape(
            out.shape[0], -1, *grid)
        fourier.append(fourier_profile(maps))
    return dict(attention_distance=np.stack(distance), nmi=np.stack(nmi),
                fourier=np.stack(fourier),
                tokens=[out[:, extra:] for out in tokens],
                last_tokens=tokens[-1][:, extra:])
