"""LayerNorm and average pooling before a linear probe."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class LayerNormNeck(BaseModule):
    """A LayerNorm and global average pooling of feature maps.

    KAMIM's Table 5 probes with a LayerNorm before the linear layer. The
    only LayerNorm probe in the released code normalises each image's
    (C, N) token matrix jointly, with a learnt scale and shift per channel
    and token (``nn.LayerNorm([C, N])``, PyTorch's eps 1e-5), and then
    averages the tokens; that is ``mode='tokens'``, the default. No released
    script instantiates it, so Table 5's exact variant is not known;
    ``mode='channels'`` averages first and normalises the (C,) vector
    instead.

    Args:
        in_channels (int): Number of channels C.
        num_tokens (int, optional): Number of tokens N = H x W of the maps
            (e.g. 144 for a ViT/16 at 192 px, 36 for Swin's last stage).
            Required for ``mode='tokens'``.
        mode (str): ``'tokens'`` (normalise over channels and tokens, then
            pool) or ``'channels'`` (pool, then normalise over channels).
            Defaults to ``'tokens'``.
        eps (float): LayerNorm epsilon. Defaults to 1e-5.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 num_tokens: Optional[int] = None,
                 mode: str = 'tokens',
                 eps: float = 1e-5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode == 'tokens':
            if not num_tokens:
                raise ValueError("mode='tokens' needs num_tokens, the H x W "
                                 'of the feature maps')
            self.norm = nn.LayerNorm([in_channels, num_tokens], eps=eps)
        elif mode == 'channels':
            self.norm = nn.LayerNorm(in_channels, eps=eps)
        else:
            raise ValueError(
                f"mode must be 'tokens' or 'channels', got {mode!r}")
        self.mode = mode

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised tokens, before the learnt scale and shift: (B, C,
        N) for ``mode='tokens'``, (B, C) for ``'channels'``. They depend on
        no parameter, so heads on the same feature map share them (a grid
        probe computes them once per block).

        Args:
            x (torch.Tensor): (B, C, H, W) feature map.
        """
        tokens = x.flatten(2)
        if self.mode == 'channels':
            return F.layer_norm(tokens.mean(-1), self.norm.normalized_shape,
                                eps=self.norm.eps)
        if tokens.shape[1:] != self.norm.normalized_shape:
            raise ValueError(
                f'LayerNormNeck expects (C, N) = '
                f'{tuple(self.norm.normalized_shape)} per image, got '
                f'{tuple(x.shape[1:])}: set num_tokens to H x W')
        return F.layer_norm(tokens, self.norm.normalized_shape,
                            eps=self.norm.eps)

    def pool_normalized(self, normalized: torch.Tensor) -> torch.Tensor:
        """Scale, shift and pool what :meth:`normalize` gave: (B, C).

        For ``'tokens'`` the mean over the tokens of ``x_hat * w + b`` is
        taken as ``(x_hat . w) / N + mean(b)``, one reduction without the
        (B, C, N) product.
        """
        weight, bias = self.norm.weight, self.norm.bias
        if self.mode == 'channels':
            return normalized * weight + bias
        return (torch.einsum('bcn,cn->bc', normalized, weight) /
                normalized.shape[-1] + bias.mean(-1))

    def forward(self,
                inputs: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor, ...]:
        """Normalise and pool each feature map of ``inputs``.

        Args:
            inputs (tuple[torch.Tensor]): (B, C, H, W) feature maps.

        Returns:
            tuple[torch.Tensor]: (B, C) features.
        """
        return tuple(self.pool_normalized(self.normalize(x)) for x in inputs)
