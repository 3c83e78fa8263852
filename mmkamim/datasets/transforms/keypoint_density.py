"""KAMIM's per-image keypoint weights, computed in the data pipeline."""
from typing import Callable, Dict

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from mmkamim.keypoints import KeypointSettings
from mmkamim.keypoints.raster import (
    cell_counts,
    circle_keypoint_map,
    point_keypoint_map,
)

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
        **settings: The keypoint settings, as
            :class:`~mmkamim.keypoints.KeypointSettings` defines them and
            their defaults (``detector``, ``detector_kwargs``,
            ``rasterize``, ``patch_size``, ``temperature``,
            ``channel_order``, ``gray``).
    """

    def __init__(self, **settings) -> None:
        self.settings = KeypointSettings.from_config('KeypointDensity',
                                                     **settings)
        self._detector = self.settings.build_detector()
        self._exp_density = self.settings.exp_density_table()

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
        code = _GRAY_CODES.get(
            (self.settings.channel_order, self.settings.gray, channels))
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
            self._detector = self.settings.build_detector()
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
        return _RASTERIZERS[self.settings.rasterize](self.detect(img),
                                                     *img.shape[:2])

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
        ps = self.settings.patch_size
        if height % ps or width % ps:
            raise ValueError(
                f'KeypointDensity: image size {height}x{width} is not '
                f'divisible by patch_size={ps}')
        counts = cell_counts(self.keypoint_map(img), ps)
        exp_density = self._exp_density[counts]
        results['kp_weight'] = exp_density / self._exp_density[counts.min()]
        return results

    def __repr__(self) -> str:
        settings = ', '.join(
            f'{name}={value!r}'
            for name, value in self.settings.as_dict().items())
        return f'{self.__class__.__name__}({settings})'
