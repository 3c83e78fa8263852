"""KAMIM's keypoint weights computed on the training device."""
import logging
from typing import Union

import cv2
import torch
from mmengine.logging import print_log
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from mmkamim.keypoints import KeypointSettings
from mmkamim.keypoints.fast_torch import (
    batch_cell_counts,
    dilate,
    fast_corners,
    gray_channel_weights,
    ring_offsets,
    to_gray,
)
from mmkamim.keypoints.raster import integer_ring_kernel

# cv2.FastFeatureDetector_create's arguments the device path implements.
_FAST_KWARGS = {'threshold', 'nonmaxSuppression', 'type'}


def _device_path_error(what: str) -> ValueError:
    return ValueError(
        f'KAMIMDataPreprocessor computes FAST keypoints drawn as rings on the '
        f'training device; {what} needs the CPU transform KeypointDensity in '
        'the data pipeline: train with tools/train.py --keypoints-in-pipeline'
        ' (or see the README, "Keypoint weights on the device or in the '
        'pipeline")')


@MODELS.register_module()
class KAMIMDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` that also computes KAMIM's weights.

    Before normalising, it computes from the batch's uint8 images, on their
    device and for the whole batch at once, exactly the float32 weights
    ``KeypointDensity(detector='fast', ...)`` gives each image (see
    :mod:`mmkamim.keypoints.fast_torch`), and sets them as
    ``kp_weight`` (H / patch_size, W / patch_size) on every data sample. The
    data pipeline then stays SimMIM's. All arithmetic is integer (autocast
    is switched off here, since mmengine runs the data preprocessor inside
    the optimiser's autocast context) and nothing waits for the device.

    It takes the keypoint settings ``KeypointDensity`` takes
    (:class:`~mmkamim.keypoints.KeypointSettings`), with the same meaning and
    defaults, so that a config's keypoint settings can move between the two
    (``tools/train.py --keypoints-in-pipeline``). ORB, SIFT and the
    ``'point'`` raster are not implemented here and raise; of FAST's
    arguments (``detector_kwargs``) it takes ``threshold`` (integer in
    [0, 255], default 10), ``nonmaxSuppression`` (default True) and ``type``
    (only ``cv2.FAST_FEATURE_DETECTOR_TYPE_9_16``).

    Args:
        compile (bool | str): Fuse the computation with ``torch.compile``:
            True, False, or ``'auto'`` (on CUDA only). Defaults to
            ``'auto'``.
        **kwargs: The keypoint settings, and ``SelfSupDataPreprocessor``'s
            arguments (``mean``, ``std``, ``to_rgb``, ...).
    """

    def __init__(self, compile: Union[bool, str] = 'auto', **kwargs) -> None:
        names = KeypointSettings.names()
        settings = KeypointSettings.from_config(
            'KAMIMDataPreprocessor',
            **{k: kwargs.pop(k) for k in names if k in kwargs})
        super().__init__(**kwargs)
        if settings.detector != 'fast':
            raise _device_path_error(f'detector={settings.detector!r}')
        if settings.rasterize != 'circle':
            raise _device_path_error(f'rasterize={settings.rasterize!r}')
        unknown = set(settings.detector_kwargs) - _FAST_KWARGS
        if unknown:
            raise ValueError(f'detector_kwargs {sorted(unknown)} are not '
                             f'FAST arguments; use {sorted(_FAST_KWARGS)}')
        fast = settings.build_detector()
        if fast.getType() != cv2.FAST_FEATURE_DETECTOR_TYPE_9_16:
            raise _device_path_error(f'FAST type {fast.getType()}')
        if compile not in (True, False, 'auto'):
            raise ValueError(
                f"compile must be True, False or 'auto', got {compile!r}")
        self.settings = settings
        self.threshold = fast.getThreshold()
        self.nonmax_suppression = bool(fast.getNonmaxSuppression())
        self.patch_size = settings.patch_size
        self.gray_weights = gray_channel_weights(settings.channel_order,
                                                 settings.gray)
        self.ring = ring_offsets(integer_ring_kernel())
        # weight_table[m, k]: the weight of a cell with count k in an image
        # whose least count is m, the float32 division KeypointDensity does.
        self.register_buffer('weight_table',
                             torch.from_numpy(settings.weight_table()),
                             persistent=False)
        self.compile = compile
        self._compiled = None

    def keypoint_weights(self, images: torch.Tensor) -> torch.Tensor:
        """KAMIM's weights of a uint8 batch.

        Args:
            images (torch.Tensor): uint8 (B, C, H, W) in ``channel_order``,
                H and W multiples of ``patch_size``.

        Returns:
            torch.Tensor: float32 (B, H / patch_size, W / patch_size), each
            image's least weight exactly 1.
        """
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(
                'KAMIMDataPreprocessor needs the uint8 (B, C, H, W) images '
                f'PackInputs makes, before normalisation; got '
                f'{images.dtype} {tuple(images.shape)}')
        height, width = images.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f'KAMIMDataPreprocessor: image size {height}x{width} is not '
                f'divisible by patch_size={self.patch_size}')
        with torch.autocast(images.device.type, enabled=False):
            if not self._use_compiled(images.device):
                return self._weights(images, self.weight_table)
            if self._compiled is None:
                self._compiled = torch.compile(self._weights, dynamic=False)
            try:
                return self._compiled(images, self.weight_table)
            except Exception as error:  # Inductor / Triton failures
                # The eager path gives the same values; train on with it.
                print_log(
                    'KAMIMDataPreprocessor: torch.compile failed '
                    f'({type(error).__name__}: {error}); computing the '
                    'keypoint weights without it',
                    logger='current', level=logging.WARNING)
                self.compile = False
                return self._weights(images, self.weight_table)

    @property
    def compiled(self) -> bool:
        """Whether the weights have been computed by the compiled path."""
        return self._compiled is not None and self.compile is not False

    def _use_compiled(self, device: torch.device) -> bool:
        return self.compile is True or (self.compile == 'auto'
                                        and device.type == 'cuda')

    def _weights(self, images: torch.Tensor,
                 weight_table: torch.Tensor) -> torch.Tensor:
        gray = to_gray(images, self.gray_weights)
        corners = fast_corners(gray, self.threshold, self.nonmax_suppression)
        counts = batch_cell_counts(dilate(corners, self.ring),
                                   self.patch_size)
        least = counts.amin((1, 2), keepdim=True)
        return weight_table[least.long(), counts.long()]

    def forward(self, data: dict, training: bool = False) -> dict:
        """Set ``kp_weight`` on the data samples, then normalise.

        Args:
            data (dict): ``inputs``, a uint8 (B, C, H, W) tensor or a list of
                (C, H, W) ones, and ``data_samples``.
            training (bool): Whether in training.

        Returns:
            dict: ``SelfSupDataPreprocessor``'s output.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            weights = [self.keypoint_weights(img[None])[0] for img in inputs]
        else:
            weights = self.keypoint_weights(inputs)
        samples = data.get('data_samples')
        if samples is None or len(samples) != len(weights):
            raise ValueError(
                'KAMIMDataPreprocessor needs one data sample per image to '
                'carry its kp_weight')
        for sample, weight in zip(samples, weights):
            sample.set_field(weight, 'kp_weight')
        # The samples are on the device already: casting them again would
        # copy every sample once more (milliseconds for a batch of 256).
        out = super().forward(dict(inputs=inputs, data_samples=None),
                              training)
        out['data_samples'] = samples
        return out
