"""KAMIM's per-image keypoint weights, computed in the data pipeline."""
import math
from typing import Callable, Dict, Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from .keypoint_map import circle_keypoint_map, point_keypoint_map

_DETECTORS: Dict[str, Callable] = {
    'fast': cv2.FastFeatureDetector_create,
    'orb': cv2.ORB_create,
    'sift': cv2.SIFT_create,
}
_RASTERIZERS: Dict[str, Callable] = {
    'circle': circle_keypoint_map,
    'point': point_keypoint_map,
}
# OpenCV colour codes by (channel order, gray mode, channel count).
# 'released' reproduces the authors' code: it handed OpenCV an RGB crop, and
# OpenCV's detectors convert a colour image as if it were BGR, so the gray
# image they saw weighs red by 0.114 and blue by 0.299.
_GRAY_CODES = {
    ('bgr', 'released', 3): cv2.COLOR_RGB2GRAY,
    ('bgr', 'released', 4): cv2.COLOR_RGBA2GRAY,
    ('bgr', 'luma', 3): cv2.COLOR_BGR2GRAY,
    ('bgr', 'luma', 4): cv2.COLOR_BGRA2GRAY,
    ('rgb', 'released', 3): cv2.COLOR_BGR2GRAY,
    ('rgb', 'released', 4): cv2.COLOR_BGRA2GRAY,
    ('rgb', 'luma', 3): cv2.COLOR_RGB2GRAY,
    ('rgb', 'luma', 4): cv2.COLOR_RGBA2GRAY,
}
# Bounds of Omega / T before exp, as in the released code.
_LOGIT_BOUND = 20.0
# Adds the eight bytes of a uint64 into its top byte.
_BYTE_SUM = np.uint64(0x0101010101010101)
_TOP_BYTE = np.uint64(56)


def cell_counts(keypoint_map: np.ndarray, patch_size: int) -> np.ndarray:
    """Number of marked pixels in each ``patch_size`` x ``patch_size`` cell.

    Args:
        keypoint_map (np.ndarray): C-contiguous (H, W) uint8 map of 0 and 1,
            H and W multiples of ``patch_size``.
        patch_size (int): Cell side in pixels.

    Returns:
        np.ndarray: (H / patch_size, W / patch_size) integer counts.
    """
    height, width = keypoint_map.shape
    if patch_size == 8:
        # The default cell, on the hot path: read each 8-pixel run of a row
        # as one uint64, sum the 8 rows of a cell (every byte stays <= 8),
        # then add the 8 bytes of the sum (<= 64, so no byte overflows).
        runs = keypoint_map.view(np.uint64).reshape(height // 8, 8,
                                                    width // 8).sum(axis=1)
        return (runs * _BYTE_SUM) >> _TOP_BYTE
    corners = cv2.integral(keypoint_map)[::patch_size, ::patch_size]
    return np.diff(np.diff(corners, axis=0), axis=1)


def exp_density_table(patch_size: int, temperature: float) -> np.ndarray:
    """exp(clip(Omega / T, -20, 20)) for every possible cell count, float32.

    A cell's keypoint count k is an integer in [0, patch_size**2], so its
    density k / patch_size**2 takes finitely many values; the table holds
    the same float32 arithmetic the released code does per cell.

    Args:
        patch_size (int): Cell side w_ps in pixels.
        temperature (float): Temperature T.

    Returns:
        np.ndarray: float32 (patch_size**2 + 1, ), indexed by the count.
    """
    cells = patch_size**2
    density = np.arange(cells + 1, dtype=np.float32) / np.float32(cells)
    logits = np.clip(density / np.float32(temperature), -_LOGIT_BOUND,
                     _LOGIT_BOUND)
    return np.exp(logits)


def _choice(name: str, value: str, valid) -> str:
    if value not in valid:
        raise ValueError(f'{name}={value!r} is not supported; choose one of '
                         f'{sorted(valid)}')
    return value


@TRANSFORMS.register_module()
class KeypointDensity(BaseTransform):
    """Patch-wise keypoint weights W for KAMIM's reconstruction loss.

    Detects keypoints on the augmented uint8 image, rasterises them into a
    binary map F of the image's size, averages F over non-overlapping
    ``patch_size`` x ``patch_size`` cells (Omega, the keypoint density) and
    turns the density into weights
    ``W = exp(clip(Omega / T, -20, 20)) / min(exp(clip(Omega / T, -20, 20)))``
    so that the smallest weight of every image is exactly 1.

    Place it after the crop and flips and before ``PackInputs``, and list
    ``kp_weight`` in ``PackInputs``' ``algorithm_keys``.

    **Required Keys:**

    - img: uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).

    **Added Keys:**

    - kp_weight: float32 (H / patch_size, W / patch_size), min exactly 1.

    Args:
        detector (str): ``'fast'`` (OpenCV's FastFeatureDetector with its
            defaults: threshold 10, non-max suppression, type 9/16),
            ``'orb'`` or ``'sift'``. Defaults to ``'fast'``.
        detector_kwargs (dict, optional): Keyword arguments for the OpenCV
            factory (``cv2.FastFeatureDetector_create``, ``cv2.ORB_create``,
            ``cv2.SIFT_create``), e.g. ``dict(threshold=20)``.
        rasterize (str): ``'circle'`` marks every pixel that
            ``cv2.drawKeypoints`` paints for a keypoint (an anti-aliased ring
            of radius 3), as the released code does; ``'point'`` marks only
            the keypoint's pixel, as the paper's text says.
            Defaults to ``'circle'``.
        patch_size (int): Side w_ps of the density cells in pixels.
            Defaults to 8.
        temperature (float): Temperature T; lower values weigh keypoint-rich
            cells more. Defaults to 0.25.
        channel_order (str): Channel order of ``results['img']``: ``'bgr'``
            (as ``LoadImageFromFile`` gives) or ``'rgb'``. Defaults to
            ``'bgr'``.
        gray (str): How colour images become the gray image the detector
            sees. ``'released'`` reproduces the authors' code, which gave
            OpenCV RGB data that OpenCV converts as BGR; ``'luma'`` uses the
            standard BT.601 weights. Defaults to ``'released'``.
    """

    def __init__(self,
                 detector: str = 'fast',
                 detector_kwargs: Optional[dict] = None,
                 rasterize: str = 'circle',
                 patch_size: int = 8,
                 temperature: float = 0.25,
                 channel_order: str = 'bgr',
                 gray: str = 'released') -> None:
        self.detector = _choice('detector', detector, _DETECTORS)
        self.detector_kwargs = dict(detector_kwargs or {})
        self.rasterize = _choice('rasterize', rasterize, _RASTERIZERS)
        self.channel_order = _choice('channel_order', channel_order,
                                     {'bgr', 'rgb'})
        self.gray = _choice('gray', gray, {'released', 'luma'})
        if (isinstance(patch_size, bool) or not isinstance(patch_size, int)
                or patch_size < 1):
            raise ValueError(
                f'patch_size must be an integer >= 1, got {patch_size!r}')
        if not (isinstance(temperature, (int, float))
                and math.isfinite(temperature) and temperature > 0):
            raise ValueError(
                f'temperature must be a finite number > 0, got '
                f'{temperature!r}')
        threshold = self.detector_kwargs.get('threshold', 10)
        if self.detector == 'fast' and (isinstance(threshold, bool)
                                        or not isinstance(threshold, int)
                                        or not 0 <= threshold <= 255):
            # OpenCV would clamp it silently.
            raise ValueError('FAST threshold must be an integer in [0, 255],'
                             f' got {threshold!r}')
        self.patch_size = patch_size
        self.temperature = float(temperature)
        # Build the detector now so that bad keyword arguments fail at
        # construction, not in a dataloader worker.
        self._detector = self._build_detector()
        self._exp_density = exp_density_table(self.patch_size,
                                              self.temperature)

    def _build_detector(self):
        return _DETECTORS[self.detector](**self.detector_kwargs)

    def __getstate__(self) -> dict:
        # OpenCV detectors cannot be pickled (spawned dataloader workers).
        state = self.__dict__.copy()
        state['_detector'] = None
        return state

    def _to_gray(self, img: np.ndarray) -> np.ndarray:
        if img.ndim == 2:
            return img
        channels = img.shape[2]
        if channels == 1:
            return img[..., 0]
        code = _GRAY_CODES.get((self.channel_order, self.gray, channels))
        if code is None:
            raise ValueError(
                f'KeypointDensity needs an image with 1, 3 or 4 channels, '
                f'got shape {img.shape}')
        return cv2.cvtColor(img, code)

    def detect(self, img: np.ndarray) -> np.ndarray:
        """The keypoints of an image, as the detector finds them.

        Args:
            img (np.ndarray): uint8 image (H, W), (H, W, 1), (H, W, 3) or
                (H, W, 4) in ``channel_order``.

        Returns:
            np.ndarray: (N, 2) float32 keypoint centres (x, y) in pixels.
        """
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
            dtype = getattr(img, 'dtype', type(img).__name__)
            raise ValueError(
                f'KeypointDensity needs a uint8 numpy image (before '
                f'normalisation), got {dtype}')
        if img.ndim not in (2, 3):
            raise ValueError(
                f'KeypointDensity needs an (H, W) or (H, W, C) image, got '
                f'shape {img.shape}')
        if self._detector is None:
            self._detector = self._build_detector()
        keypoints = self._detector.detect(self._to_gray(img), None)
        return (cv2.KeyPoint_convert(keypoints)
                if keypoints else np.empty((0, 2), np.float32))

    def keypoint_map(self, img: np.ndarray) -> np.ndarray:
        """Binary keypoint map F of an image.

        Args:
            img (np.ndarray): uint8 image (H, W), (H, W, 1), (H, W, 3) or
                (H, W, 4) in ``channel_order``.

        Returns:
            np.ndarray: (H, W) uint8 map, 1 where F is 1 and 0 elsewhere.
        """
        return _RASTERIZERS[self.rasterize](self.detect(img), *img.shape[:2])

    def transform(self, results: dict) -> dict:
        """Add ``kp_weight`` to ``results``.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: ``results`` with ``kp_weight`` (H / patch_size,
            W / patch_size) float32.
        """
        img = results['img']
        height, width = img.shape[:2]
        ps = self.patch_size
        if height % ps or width % ps:
            raise ValueError(
                f'KeypointDensity: image size {height}x{width} is not '
                f'divisible by patch_size={ps}')
        counts = cell_counts(self.keypoint_map(img), ps)
        exp_density = self._exp_density[counts]
        results['kp_weight'] = exp_density / self._exp_density[counts.min()]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(detector={self.detector!r}, '
                f'detector_kwargs={self.detector_kwargs}, '
                f'rasterize={self.rasterize!r}, '
                f'patch_size={self.patch_size}, '
                f'temperature={self.temperature}, '
                f'channel_order={self.channel_order!r}, gray={self.gray!r})')
