"""The settings of KAMIM's keypoint weights, declared once.

Both weight paths take them: the ``KeypointDensity`` transform (per image,
in the data pipeline) and ``KAMIMDataPreprocessor`` (per batch, on the
training device); ``--keypoints-in-pipeline`` moves them from one to the
other. Validation, the detector and the exp(density / T) table live here,
so that the two paths cannot disagree on any of them.
"""
import dataclasses
import math
from typing import Callable, Dict, Optional, Tuple

import cv2
import numpy as np

DETECTORS: Dict[str, Callable] = {
    'fast': cv2.FastFeatureDetector_create,
    'orb': cv2.ORB_create,
    'sift': cv2.SIFT_create,
}
RASTER_MODES = ('circle', 'point')
CHANNEL_ORDERS = ('bgr', 'rgb')
GRAY_MODES = ('released', 'luma')
# Bounds of Omega / T before exp, as in the released code.
LOGIT_BOUND = 20.0


def check_choice(name: str, value: str, valid) -> str:
    """``value``, if it is one of ``valid``; else a ValueError naming
    both."""
    if value not in valid:
        raise ValueError(f'{name}={value!r} is not supported; choose one of '
                         f'{sorted(valid)}')
    return value


@dataclasses.dataclass(frozen=True)
class KeypointSettings:
    """How keypoints become KAMIM's per-cell weights.

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
        channel_order (str): Channel order of the uint8 images: ``'bgr'`` (as
            ``LoadImageFromFile`` gives) or ``'rgb'``. Defaults to ``'bgr'``.
        gray (str): How colour images become the gray image the detector
            sees. ``'released'`` reproduces the authors' code, which gave
            OpenCV RGB data that OpenCV converts as BGR; ``'luma'`` uses the
            standard BT.601 weights. Defaults to ``'released'``.

    Raises:
        ValueError: A setting out of its range, naming it and the range.
    """

    detector: str = 'fast'
    detector_kwargs: Optional[dict] = None
    rasterize: str = 'circle'
    patch_size: int = 8
    temperature: float = 0.25
    channel_order: str = 'bgr'
    gray: str = 'released'

    def __post_init__(self) -> None:
        check_choice('detector', self.detector, DETECTORS)
        check_choice('rasterize', self.rasterize, RASTER_MODES)
        check_choice('channel_order', self.channel_order, CHANNEL_ORDERS)
        check_choice('gray', self.gray, GRAY_MODES)
        object.__setattr__(self, 'detector_kwargs',
                           dict(self.detector_kwargs or {}))
        patch_size = self.patch_size
        if (isinstance(patch_size, bool) or not isinstance(patch_size, int)
                or patch_size < 1):
            raise ValueError(
                f'patch_size must be an integer >= 1, got {patch_size!r}')
        temperature = self.temperature
        if not (isinstance(temperature, (int, float))
                and math.isfinite(temperature) and temperature > 0):
            raise ValueError(
                f'temperature must be a finite number > 0, got '
                f'{temperature!r}')
        object.__setattr__(self, 'temperature', float(temperature))
        threshold = self.detector_kwargs.get('threshold', 10)
        if self.detector == 'fast' and (isinstance(threshold, bool)
                                        or not isinstance(threshold, int)
                                        or not 0 <= threshold <= 255):
            # OpenCV would clamp it silently.
            raise ValueError('FAST threshold must be an integer in [0, 255],'
                             f' got {threshold!r}')
        # Bad keyword arguments fail here, not in a dataloader worker.
        self.build_detector()

    @classmethod
    def from_config(cls, owner: str, **settings) -> 'KeypointSettings':
        """Build from config keys, naming any key that is not a setting.

        Args:
            owner (str): Who takes the settings, for the message.
            **settings: Setting names and values.
        """
        unknown = sorted(set(settings) - set(cls.names()))
        if unknown:
            raise ValueError(f'{owner} got {unknown}, which are not keypoint '
                             f'settings; they are {list(cls.names())}')
        return cls(**settings)

    @classmethod
    def names(cls) -> Tuple[str, ...]:
        """The settings' names, as config keys."""
        return tuple(field.name for field in dataclasses.fields(cls))

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.names()}

    def build_detector(self):
        """A new OpenCV detector with these settings."""
        return DETECTORS[self.detector](**self.detector_kwargs)

    def exp_density_table(self) -> np.ndarray:
        """exp(clip(Omega / T, -20, 20)) for every possible cell count.

        A cell's keypoint count k is an integer in [0, patch_size**2], so
        its density k / patch_size**2 takes finitely many values; the table
        holds the same float32 arithmetic the released code does per cell.

        Returns:
            np.ndarray: float32 (patch_size**2 + 1, ), indexed by the count.
        """
        cells = self.patch_size**2
        density = np.arange(cells + 1, dtype=np.float32) / np.float32(cells)
        logits = np.clip(density / np.float32(self.temperature),
                         -LOGIT_BOUND, LOGIT_BOUND)
        return np.exp(logits)

    def weight_table(self) -> np.ndarray:
        """W for every (least count of the image, count of the cell): the
        float32 division of the two exp(density / T) entries.

        Returns:
            np.ndarray: float32 (patch_size**2 + 1, patch_size**2 + 1).
        """
        table = self.exp_density_table()
        return table[None, :] / table[:, None]
