"""PixMIM's low-frequency reconstruction target."""
from typing import Sequence

import torch
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

# ImageNet statistics in [0, 1] units, as PixMIM de-normalises with them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@MODELS.register_module()
class LowFreqTargetGenerator(BaseModule):
    """Remove high frequencies from normalised images (PixMIM).

    For images normalised with ``mean`` / ``std``: de-normalise to [0, 1],
    take the 2-D FFT, shift the zero frequency to the centre, keep the
    frequencies inside an ideal circle of radius ``radius`` around
    ((H - 1) / 2, (W - 1) / 2), take the inverse FFT without undoing the
    shift, keep the magnitude (which removes the phase ramp the missing
    inverse shift leaves) and normalise again. The circle is built on the
    images' device at each call: a few element-wise operations, which a
    compiled forward folds into its graph (a cache filled at the first call
    made ``torch.compile`` compile the forward a second time).

    Args:
        radius (float): Radius of the low-pass circle in frequency bins
            (PixMIM uses 40 at 224 px). Must be > 0.
        mean (Sequence[float]): Per-channel mean of the normalisation, in
            [0, 1] units. Defaults to ImageNet's.
        std (Sequence[float]): Per-channel std of the normalisation, in
            [0, 1] units. Defaults to ImageNet's.
    """

    def __init__(self,
                 radius: float,
                 mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        if not radius > 0:
            raise ValueError(f'radius must be > 0, got {radius!r}')
        if len(mean) != len(std):
            raise ValueError(f'mean {mean} and std {std} differ in length')
        self.radius = float(radius)
        self.register_buffer(
            'mean', torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer(
            'std', torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def low_pass_filter(self, height: int, width: int,
                        device: torch.device) -> torch.Tensor:
        """The ideal circular low-pass filter for one image size.

        Args:
            height (int): Image height H.
            width (int): Image width W.
            device (torch.device): Device of the filter.

        Returns:
            torch.Tensor: (H, W) float32, 1 inside the circle, 0 outside.
        """
        # Half-integer offsets and their squares are exact in float64.
        rows = torch.arange(height, dtype=torch.float64,
                            device=device) - (height - 1) / 2
        cols = torch.arange(width, dtype=torch.float64,
                            device=device) - (width - 1) / 2
        distance = rows[:, None]**2 + cols[None, :]**2
        return (distance <= self.radius**2).float()

    @torch.no_grad()
    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        """Low-frequency targets of normalised images.

        Args:
            imgs (torch.Tensor): Normalised images (B, C, H, W).

        Returns:
            torch.Tensor: Normalised low-frequency images (B, C, H, W),
            float32.
        """
        imgs = imgs.float() * self.std + self.mean
        spectrum = torch.fft.fftshift(torch.fft.fft2(imgs), dim=(-2, -1))
        spectrum = spectrum * self.low_pass_filter(*imgs.shape[-2:],
                                                   imgs.device)
        low_pass = torch.fft.ifft2(spectrum).abs()
        return (low_pass - self.mean) / self.std
