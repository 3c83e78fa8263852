"""The batched torch FAST path against OpenCV and KeypointDensity, exactly.

Every comparison is bit-for-bit: gray images against ``cv2.cvtColor``,
keypoint sets and scores against ``cv2.FastFeatureDetector``, weights against
``KeypointDensity``. On a CUDA machine the same checks run on the GPU too,
eager and compiled.
"""
from typing import List

import cv2
import numpy as np
import pytest
import torch
from conftest import random_resized_crops

from mmkamim.datasets.sample_photos import PHOTO_NAMES, load_photo
from mmkamim.datasets.transforms import KeypointDensity
from mmkamim.keypoints.fast_torch import (
    fast_corners,
    fast_scores,
    gray_channel_weights,
    to_gray,
)
from mmkamim.models import KAMIMDataPreprocessor

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
GRAY_CODES = {
    ('bgr', 'released'): cv2.COLOR_RGB2GRAY,
    ('bgr', 'luma'): cv2.COLOR_BGR2GRAY,
    ('rgb', 'released'): cv2.COLOR_BGR2GRAY,
    ('rgb', 'luma'): cv2.COLOR_RGB2GRAY,
}

WITH_ALPHA = {
    cv2.COLOR_RGB2GRAY: cv2.COLOR_RGBA2GRAY,
    cv2.COLOR_BGR2GRAY: cv2.COLOR_BGRA2GRAY,
}


def batch_of(images: List[np.ndarray], device: str) -> torch.Tensor:
    """(H, W, C) uint8 images of one size as a (B, C, H, W) tensor."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1,
                                                      2).contiguous().to(
                                                          device)


def synthetic_images(height: int, width: int) -> List[np.ndarray]:
    """Noise, constant, gradients and isolated dots at the 3-pixel border."""
    rng = np.random.default_rng(height * 1000 + width)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    constant = np.full((height, width, 3), 117, np.uint8)
    ramp = np.add.outer(np.arange(height), 3 * np.arange(width))
    gradient = np.repeat((ramp % 256).astype(np.uint8)[..., None], 3, -1)
    diagonal = np.repeat(
        (np.add.outer(np.arange(height), np.arange(width)) * 255 //
         (height + width)).astype(np.uint8)[..., None], 3, -1)
    dots = np.zeros((height, width, 3), np.uint8)
    # Single bright pixels are FAST corners; those at 3 px from an edge are
    # the outermost OpenCV examines, those at 2 px are never examined.
    for y, x in [(3, 3), (3, width - 4), (height - 4, 3),
                 (height - 4, width - 4), (2, width // 2), (height // 2, 2),
                 (height - 3, width // 2), (height // 2, width - 3)]:
        dots[y, x] = 255
    return [noise, constant, gradient, diagonal, dots]


def opencv_keypoints(gray: np.ndarray, threshold: int, nonmax: bool):
    detector = cv2.FastFeatureDetector_create(
        threshold=threshold, nonmaxSuppression=nonmax)
    mask = np.zeros(gray.shape, bool)
    scores = np.zeros(gray.shape, np.int16)
    for keypoint in detector.detect(gray, None):
        x, y = keypoint.pt
        assert x == int(x) and y == int(y)  # FAST centres are integers
        mask[int(y), int(x)] = True
        scores[int(y), int(x)] = int(keypoint.response)
    return mask, scores


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('channels', [1, 3, 4])
def test_gray_is_opencv_bit_for_bit(device, channels):
    rng = np.random.default_rng(channels)
    images = [rng.integers(0, 256, (37, 53, channels), dtype=np.uint8)]
    images.append(load_photo('astronaut')[:37, :53, :channels].copy())
    if channels == 4:
        images[1] = np.concatenate(
            [images[1][..., :3], images[0][..., 3:]], -1)
    batch = batch_of(images, device)
    for (order, mode), code in GRAY_CODES.items():
        ours = to_gray(batch, gray_channel_weights(order, mode)).cpu()
        for img, got in zip(images, ours):
            if channels == 1:
                expected = img[..., 0]
            elif channels == 3:
                expected = cv2.cvtColor(img, code)
            else:
                expected = cv2.cvtColor(img, WITH_ALPHA[code])
            np.testing.assert_array_equal(got.numpy(), expected)


def gray_batches(device: str):
    """(name, int16 gray batch, the same as uint8 numpy images)."""
    crops = random_resized_crops(len(PHOTO_NAMES), size=192, seed=3)
    # Sizes that are not multiples of 16, as keypoint sets allow them.
    odd = [cv2.resize(load_photo(name), (75, 100))
           for name in PHOTO_NAMES[:6]]
    sets = [('photos 192', crops), ('photos 100x75', odd),
            ('synthetic 96', synthetic_images(96, 96)),
            ('synthetic 45x67', synthetic_images(45, 67))]
    weights = gray_channel_weights('bgr', 'released')
    for name, images in sets:
        gray = to_gray(batch_of(images, device), weights)
        yield name, gray, gray.cpu().numpy().astype(np.uint8)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('threshold', [1, 10, 40])
@pytest.mark.parametrize('nonmax', [True, False])
def test_fast_keypoints_are_opencv_keypoints(device, threshold, nonmax):
    found = 0
    for name, gray, images in gray_batches(device):
        ours = fast_corners(gray, threshold, nonmax).cpu().numpy()
        corners, scores = fast_scores(gray, threshold)
        for i, img in enumerate(images):
            mask, expected_scores = opencv_keypoints(img, threshold, nonmax)
            assert np.array_equal(ours[i], mask), (name, i)
            if nonmax:
                # OpenCV's response is the corner score (it leaves it 0 when
                # it does not suppress).
                np.testing.assert_array_equal(
                    scores[i].cpu().numpy()[mask], expected_scores[mask])
            found += mask.sum()
    assert found > 1000


def test_a_dot_two_pixels_from_the_border_is_never_a_corner():
    gray = torch.from_numpy(synthetic_images(96, 96)[-1][..., 0]).to(
        torch.int16)[None]
    corners = fast_corners(gray, 10, nonmax_suppression=False)[0]
    ys, xs = np.nonzero(corners.numpy())
    assert set(zip(ys.tolist(), xs.tolist())) == {(3, 3), (3, 92), (92, 3),
                                                  (92, 92)}


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('settings', [
    dict(),
    dict(patch_size=16, temperature=0.1),
    dict(patch_size=32, temperature=1.0, gray='luma'),
    dict(detector_kwargs=dict(threshold=1), temperature=0.5),
    dict(detector_kwargs=dict(threshold=40, nonmaxSuppression=False)),
    dict(channel_order='rgb', temperature=2.5),
])
def test_weights_equal_keypoint_density(device, settings):
    transform = KeypointDensity(**settings)
    preprocessor = KAMIMDataPreprocessor(**settings, compile=False).to(device)
    sets = [random_resized_crops(12, size=192, seed=5),
            [cv2.resize(load_photo(n), (64, 128)) for n in PHOTO_NAMES[:4]],
            synthetic_images(96, 96)]
    for images in sets:
        expected = np.stack(
            [transform.transform({'img': img})['kp_weight'] for img in images])
        batch = batch_of(images, device)
        weights = preprocessor.keypoint_weights(batch)
        assert weights.dtype == torch.float32
        assert np.array_equal(weights.cpu().numpy(), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_compiled_cuda_path_equals_the_transform():
    """The fused (torch.compile) version the preprocessor uses on CUDA."""
    images = random_resized_crops(30, size=192, seed=7) + synthetic_images(
        192, 192)[:2]
    expected = np.stack([
        KeypointDensity().transform({'img': img})['kp_weight']
        for img in images
    ])
    preprocessor = KAMIMDataPreprocessor().to('cuda')
    assert preprocessor.compile == 'auto'
    weights = preprocessor.keypoint_weights(batch_of(images, 'cuda'))
    # Compiled, and the compiled kernel did not fall back to eager.
    assert preprocessor.compiled
    assert preprocessor.compile == 'auto'
    assert np.array_equal(weights.cpu().numpy(), expected)


@pytest.mark.parametrize('settings,match', [
    (dict(detector='orb'), "detector='orb' needs the CPU transform"),
    (dict(detector='sift'), "detector='sift' needs the CPU transform"),
    (dict(rasterize='point'), "rasterize='point' needs the CPU transform"),
    (dict(detector_kwargs=dict(threshold=300)), 'FAST threshold must be '
     r'an integer in \[0, 255\], got 300'),
    (dict(detector_kwargs=dict(type=cv2.FAST_FEATURE_DETECTOR_TYPE_7_12)),
     'FAST type 1 needs the CPU transform'),
    (dict(detector_kwargs=dict(nfeatures=10)), "'nfeatures'"),
    (dict(temperature=0), 'temperature must be a finite number > 0'),
])
def test_what_the_device_path_cannot_do_is_a_clear_error(settings, match):
    with pytest.raises((ValueError, cv2.error, TypeError), match=match):
        KAMIMDataPreprocessor(**settings)


def test_gray_modes_are_the_settings_own():
    with pytest.raises(ValueError, match=r"gray='bt709' is not supported; "
                       r"choose one of \['luma', 'released'\]"):
        gray_channel_weights('bgr', 'bt709')
    with pytest.raises(ValueError, match="channel_order='hsv'"):
        gray_channel_weights('hsv', 'luma')
