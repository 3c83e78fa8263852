import cv2
import numpy as np
import pytest
import torch

from mmkamim.datasets.sample_photos import load_photo
from mmkamim.models import LowFreqTargetGenerator

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def normalised(name: str, height: int, width: int) -> torch.Tensor:
    rgb = cv2.resize(load_photo(name), (width, height))[..., ::-1] / 255.0
    return torch.from_numpy(
        ((rgb - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32))


def direct(imgs: torch.Tensor, radius: float) -> np.ndarray:
    """The spec's procedure step by step, in float64 numpy."""
    x = imgs.double().numpy() * STD.reshape(1, 3, 1, 1) + MEAN.reshape(
        1, 3, 1, 1)
    spectrum = np.fft.fftshift(np.fft.fft2(x), axes=(-2, -1))
    h, w = x.shape[-2:]
    circle = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            if (i - (h - 1) / 2)**2 + (j - (w - 1) / 2)**2 <= radius**2:
                circle[i, j] = 1
    low = np.abs(np.fft.ifft2(spectrum * circle))
    return (low - MEAN.reshape(1, 3, 1, 1)) / STD.reshape(1, 3, 1, 1)


@pytest.mark.parametrize('name,height,width,radius',
                         [('astronaut', 224, 224, 40),
                          ('coffee', 192, 192, 34), ('chelsea', 96, 160, 17.5),
                          ('rocket', 75, 75, 10)])
def test_matches_a_direct_fft_computation(name, height, width, radius):
    imgs = normalised(name, height, width)
    ours = LowFreqTargetGenerator(radius)(imgs)
    assert ours.shape == imgs.shape and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), direct(imgs, radius), atol=2e-4)


def test_radius_covering_the_spectrum_returns_the_input():
    for height, width in ((224, 224), (96, 161)):
        imgs = normalised('astronaut', height, width)
        everything = np.hypot(height / 2, width / 2) + 1
        torch.testing.assert_close(
            LowFreqTargetGenerator(everything)(imgs), imgs, atol=2e-4,
            rtol=0)


def high_frequency_share(imgs: torch.Tensor, radius: float) -> float:
    """Share of spectral energy beyond ``radius`` of the centre."""
    x = imgs * torch.tensor(STD).view(1, 3, 1, 1) + torch.tensor(MEAN).view(
        1, 3, 1, 1)
    power = torch.fft.fftshift(torch.fft.fft2(x), dim=(-2, -1)).abs()**2
    h, w = x.shape[-2:]
    rows = torch.arange(h) - h // 2
    cols = torch.arange(w) - w // 2
    far = (rows[:, None]**2 + cols[None, :]**2).sqrt() > radius
    return float(power[..., far].sum() / power.sum())


def test_small_radius_leaves_a_smooth_image():
    imgs = normalised('astronaut', 224, 224)
    smooth = LowFreqTargetGenerator(3)(imgs)
    assert high_frequency_share(imgs, 6) > 0.05  # a detailed photo ...
    assert high_frequency_share(smooth, 6) < 1e-3  # ... made smooth


def test_filter_is_the_circle_around_the_centre():
    radius = 10
    circle = LowFreqTargetGenerator(radius).low_pass_filter(
        48, 40, torch.device('cpu'))
    expected = [[float((i - 23.5)**2 + (j - 19.5)**2 <= radius**2)
                 for j in range(40)] for i in range(48)]
    assert circle.dtype == torch.float32
    assert circle.tolist() == expected


@pytest.mark.parametrize('radius', [0, -3, float('nan')])
def test_bad_radius(radius):
    with pytest.raises(ValueError, match='radius'):
        LowFreqTargetGenerator(radius)
