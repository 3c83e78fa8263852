"""FAST, rings and cell counts for a whole batch, in torch, exactly.

``KeypointDensity`` computes the weights per image on the CPU, where FAST
alone costs more than the rest of a SimMIM pipeline. These functions compute
the same float32 weights, bit for bit, for a uint8 batch on whatever device
holds it, with integer arithmetic only (so neither TF32, reduced precision
nor a nondeterministic kernel can change a result):

* gray: OpenCV 5's fixed-point conversion ``(9798 R + 19235 G + 3735 B +
  2^14) >> 15``, with the channels assigned as ``KeypointDensity``'s
  ``channel_order`` and ``gray`` modes assign them;
* FAST 9/16 as ``cv2.FastFeatureDetector_create()``: the 16-pixel circle
  ``(dx, dy) = (0, 3), (1, 3), (2, 2), (3, 1), (3, 0), ...``, OpenCV's corner
  score, strict 3 x 3 non-max suppression (non-corners score 0) and no corner
  within 3 pixels of the border. A pixel is a corner when 9 contiguous
  circle pixels are all brighter than v + t or all darker than v - t. With
  ``d = v - p`` over the circle, OpenCV's score is ``-b0 - 1`` where
  ``a0 = max(t, max over arcs of 9 of min d)`` and
  ``b0 = min(-a0, min over arcs of 9 of max d)``; an all-darker arc exists
  exactly when some arc's min d exceeds t, an all-brighter one when some
  arc's max d is below -t, so the arc test reads off the same two extremes;
* the ``drawKeypoints`` ring at FAST's integer centres: one dilation by the
  ring stamp (:func:`~mmkamim.keypoints.raster.integer_ring_kernel`),
  then integer cell counts and the weights
  through a float32 table of every (count, image-minimum count) pair.
"""
from typing import Tuple

import numpy as np
import torch

from .settings import CHANNEL_ORDERS, GRAY_MODES, check_choice

# OpenCV 5's RGB -> gray weights in 15-bit fixed point, and its rounding.
GRAY_WEIGHTS_RGB = (9798, 19235, 3735)
_GRAY_SHIFT = 15
# The FAST circle as (dx, dy), in OpenCV's order (offsets16 in fast.cpp).
FAST_CIRCLE = ((0, 3), (1, 3), (2, 2), (3, 1), (3, 0), (3, -1), (2, -2),
               (1, -3), (0, -3), (-1, -3), (-2, -2), (-3, -1), (-3, 0),
               (-3, 1), (-2, 2), (-1, 3))
_BORDER = 3


def gray_channel_weights(channel_order: str, gray: str) -> Tuple[int, ...]:
    """Fixed-point weights of channels 0, 1, 2 for ``KeypointDensity``'s
    modes (``'released'`` converts as if the data were the other order)."""
    check_choice('channel_order', channel_order, CHANNEL_ORDERS)
    check_choice('gray', gray, GRAY_MODES)
    as_rgb = (channel_order == 'rgb') == (gray == 'luma')
    return GRAY_WEIGHTS_RGB if as_rgb else GRAY_WEIGHTS_RGB[::-1]


def to_gray(images: torch.Tensor, weights: Tuple[int, ...]) -> torch.Tensor:
    """OpenCV's gray image of a uint8 batch.

    Args:
        images (torch.Tensor): uint8 (B, C, H, W), C = 1, 3 or 4 (a fourth,
            alpha channel is ignored, as ``cv2.COLOR_*A2GRAY``).
        weights (tuple[int]): Fixed-point weights of channels 0, 1, 2.

    Returns:
        torch.Tensor: int16 (B, H, W) gray values in [0, 255].
    """
    channels = images.shape[1]
    if channels == 1:
        return images[:, 0].to(torch.int16)
    if channels not in (3, 4):
        raise ValueError(f'images need 1, 3 or 4 channels, got {channels}')
    rgb = images[:, :3].to(torch.int32)
    total = (rgb[:, 0] * weights[0] + rgb[:, 1] * weights[1] +
             rgb[:, 2] * weights[2] + (1 << (_GRAY_SHIFT - 1)))
    return (total >> _GRAY_SHIFT).to(torch.int16)


def _arc_extremes(d: torch.Tensor, reduce) -> torch.Tensor:
    """``reduce`` (torch.minimum or torch.maximum) over every circular arc
    of 9 of the (B, 16, H, W) circle differences."""
    two = reduce(d, d.roll(-1, 1))
    four = reduce(two, two.roll(-2, 1))
    eight = reduce(four, four.roll(-4, 1))
    return reduce(eight, d.roll(-8, 1))


def fast_scores(gray: torch.Tensor,
                threshold: int = 10) -> Tuple[torch.Tensor, torch.Tensor]:
    """OpenCV's FAST 9/16 corners and corner scores.

    Args:
        gray (torch.Tensor): int16 (B, H, W) gray values in [0, 255].
        threshold (int): FAST threshold t in [0, 255].

    Returns:
        tuple[torch.Tensor, torch.Tensor]: bool (B, H, W) corners, never
        within 3 pixels of the border; int16 (B, H, W) OpenCV scores (at
        least t) at corners, 0 elsewhere.
    """
    scores = gray.new_zeros(gray.shape)
    corners = torch.zeros(gray.shape, dtype=torch.bool, device=gray.device)
    height, width = gray.shape[1:]
    if height <= 2 * _BORDER or width <= 2 * _BORDER:
        return corners, scores
    inner_h, inner_w = height - 2 * _BORDER, width - 2 * _BORDER
    inner = (slice(None), slice(_BORDER, height - _BORDER),
             slice(_BORDER, width - _BORDER))
    d = torch.stack([
        gray[inner] - gray[:, _BORDER + dy:_BORDER + dy + inner_h,
                           _BORDER + dx:_BORDER + dx + inner_w]
        for dx, dy in FAST_CIRCLE
    ], dim=1)
    darker = _arc_extremes(d, torch.minimum).amax(1)
    brighter = _arc_extremes(d, torch.maximum).amin(1)
    corner = (darker > threshold) | (brighter < -threshold)
    a0 = darker.clamp(min=threshold)
    b0 = torch.minimum(brighter, -a0)
    corners[inner] = corner
    scores[inner] = torch.where(corner, -b0 - 1, torch.zeros_like(b0))
    return corners, scores


def fast_corners(gray: torch.Tensor, threshold: int = 10,
                 nonmax_suppression: bool = True) -> torch.Tensor:
    """FAST keypoints as ``cv2.FastFeatureDetector_create`` finds them.

    Args:
        gray (torch.Tensor): int16 (B, H, W) gray values in [0, 255].
        threshold (int): FAST threshold in [0, 255]. Defaults to 10.
        nonmax_suppression (bool): OpenCV's non-max suppression: keep a
            corner whose score is strictly greater than each of its 8
            neighbours' (0 for non-corners). Defaults to True.

    Returns:
        torch.Tensor: bool (B, H, W), True at every keypoint.
    """
    corners, scores = fast_scores(gray, threshold)
    if not nonmax_suppression:
        return corners
    height, width = scores.shape[1:]
    padded = torch.nn.functional.pad(scores, (1, 1, 1, 1))
    neighbours = torch.stack([
        padded[:, 1 + dy:1 + dy + height, 1 + dx:1 + dx + width]
        for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx
    ]).amax(0)
    return corners & (scores > neighbours)


def ring_offsets(kernel: np.ndarray) -> Tuple[Tuple[int, int], ...]:
    """The (dy, dx) read offsets of ``cv2.dilate`` with an odd square 0/1
    kernel anchored at its centre."""
    reach = kernel.shape[0] // 2
    return tuple((int(y) - reach, int(x) - reach)
                 for y, x in zip(*np.nonzero(kernel)))


def dilate(mask: torch.Tensor,
           offsets: Tuple[Tuple[int, int], ...]) -> torch.Tensor:
    """``cv2.dilate`` of a bool (B, H, W) map, zero outside the image: a
    pixel is set when the pixel at any (dy, dx) of ``offsets`` from it is."""
    reach = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    height, width = mask.shape[1:]
    padded = torch.nn.functional.pad(mask, (reach, ) * 4)
    out = torch.zeros_like(mask)
    for dy, dx in offsets:
        out |= padded[:, reach + dy:reach + dy + height,
                      reach + dx:reach + dx + width]
    return out


def batch_cell_counts(keypoint_map: torch.Tensor,
                      patch_size: int) -> torch.Tensor:
    """int32 (B, H / p, W / p) counts of marked pixels per p x p cell."""
    batch, height, width = keypoint_map.shape
    cells = keypoint_map.reshape(batch, height // patch_size, patch_size,
                                 width // patch_size, patch_size)
    return cells.sum((2, 4), dtype=torch.int32)
