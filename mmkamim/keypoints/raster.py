"""Binary keypoint maps F, as KAMIM builds them from OpenCV keypoints.

The released KAMIM code draws every keypoint with ``cv2.drawKeypoints`` in
its default style and marks every non-zero pixel. ``drawKeypoints`` is about
8x slower than FAST itself, so :func:`circle_keypoint_map` reproduces its
output pixel for pixel without calling it:

* OpenCV draws each keypoint as an anti-aliased ring (``cv2.circle`` with
  radius 3, thickness 1, ``LINE_AA``) whose centre is rounded to 1/16 pixel.
  Away from the image border the set of pixels a ring touches depends only
  on the 1/16-pixel fraction of its centre, so there are 256 ring stamps.
* Rings at integer centres (FAST, ORB's first pyramid level) share one
  stamp; their union is a single morphological dilation of the centre map.
* Sub-pixel rings (SIFT, ORB's upper levels) are scattered from their stamp.
* Near the border OpenCV clips the ring before rasterising it, which moves
  some anti-aliased pixels; those few rings are drawn with ``cv2.circle``
  itself, exactly as ``drawKeypoints`` does.

Blending a 255-valued ring never lowers a pixel, so the non-zero set of
many rings drawn one over another is the union of their individual non-zero
sets, which is what the dilation and the scatter compute.

:func:`cell_counts` then counts the marked pixels of each w_ps x w_ps cell,
which index the exp(density / T) table of
:class:`~mmkamim.keypoints.KeypointSettings`.
"""
from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np

# Adds the eight bytes of a uint64 into its top byte.
_BYTE_SUM = np.uint64(0x0101010101010101)
_TOP_BYTE = np.uint64(56)
# drawKeypoints draws centres in fixed point with 4 fractional bits.
_SHIFT = 4
_ONE = 1 << _SHIFT
_FRAC_MASK = _ONE - 1
# drawKeypoints' default marker: radius 3 px, in the same fixed point.
_RADIUS = 3 * _ONE
# An integer-centred ring is rasterised as the stamp shows only when its
# centre lies at least this far (px) from every edge; checked exhaustively in
# tests/test_keypoints/test_raster.py.
_INTEGER_SAFE_MARGIN = 3


def _draw_ring(canvas: np.ndarray, center_fixed: Tuple[int, int]) -> None:
    """Draw one keypoint ring in place, with drawKeypoints' exact call."""
    cv2.circle(canvas, center_fixed, _RADIUS, 255, 1, cv2.LINE_AA, _SHIFT)


@lru_cache(maxsize=1)
def _ring_stamps() -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel offsets of the ring for each of the 256 sub-pixel centres.

    Returns:
        tuple: ``offsets`` (256, M, 2) int (dy, dx), each stamp padded by
        repeating its first offset; ``low`` and ``high`` (256, 2), the
        extreme (dy, dx) of each stamp; ``kernel`` (9, 9) uint8, the stamp of
        an integer centre as a structuring element.
    """
    centre = 10
    stamps = []
    for frac_y in range(_ONE):
        for frac_x in range(_ONE):
            canvas = np.zeros((2 * centre, 2 * centre), np.uint8)
            _draw_ring(canvas,
                       (centre * _ONE + frac_x, centre * _ONE + frac_y))
            ys, xs = np.nonzero(canvas)
            stamps.append(np.stack([ys - centre, xs - centre], axis=1))
    width = max(len(s) for s in stamps)
    offsets = np.empty((len(stamps), width, 2), np.intp)
    for i, stamp in enumerate(stamps):
        offsets[i, :len(stamp)] = stamp
        offsets[i, len(stamp):] = stamp[0]
    low = np.array([s.min(0) for s in stamps], np.intp)
    high = np.array([s.max(0) for s in stamps], np.intp)
    reach = int(max(-low[0].min(), high[0].max()))
    kernel = np.zeros((2 * reach + 1, 2 * reach + 1), np.uint8)
    kernel[offsets[0, :, 0] + reach, offsets[0, :, 1] + reach] = 1
    return offsets, low, high, kernel


def integer_ring_kernel() -> np.ndarray:
    """(9, 9) uint8 0/1 stamp of the ring ``drawKeypoints`` draws around an
    integer centre; a structuring element for ``cv2.dilate``."""
    return _ring_stamps()[3]


def circle_keypoint_map(points: np.ndarray, height: int,
                        width: int) -> np.ndarray:
    """Mark every pixel that ``cv2.drawKeypoints`` would paint.

    Args:
        points (np.ndarray): Keypoint centres (N, 2) as (x, y) in pixels, as
            ``cv2.KeyPoint_convert`` returns them (float32).
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        np.ndarray: (height, width) uint8 map, 1 exactly where
        ``cv2.drawKeypoints`` with default flags paints a pixel, else 0.
    """
    offsets, low, high, kernel = _ring_stamps()
    margin = _INTEGER_SAFE_MARGIN
    centres = np.zeros((height, width), np.uint8)
    if len(points) == 0:
        return centres
    # Fast path: every ring at an integer centre well inside the image, as
    # FAST always gives; one dilation draws them all.
    pixel = points.astype(np.intp)
    if (pixel.min() >= margin and pixel[:, 0].max() < width - margin
            and pixel[:, 1].max() < height - margin
            and (pixel == points).all()):
        centres[pixel[:, 1], pixel[:, 0]] = 1
        return cv2.dilate(centres, kernel)

    # np.rint rounds half to even, as OpenCV's cvRound does.
    fixed = np.rint(points * _ONE).astype(np.intp)
    frac = fixed & _FRAC_MASK
    base_x, base_y = fixed[:, 0] >> _SHIFT, fixed[:, 1] >> _SHIFT
    stamp_id = frac[:, 1] * _ONE + frac[:, 0]
    subpixel = stamp_id != 0
    # Integer rings near an edge and sub-pixel rings that cross one are
    # clipped by OpenCV: draw those with OpenCV itself.
    crosses_edge = ((base_y + low[stamp_id, 0] < 0)
                    | (base_y + high[stamp_id, 0] >= height)
                    | (base_x + low[stamp_id, 1] < 0)
                    | (base_x + high[stamp_id, 1] >= width))
    within_margin = ((base_x < margin) | (base_y < margin)
                     | (base_x >= width - margin)
                     | (base_y >= height - margin))
    near_edge = np.where(subpixel, crosses_edge, within_margin)
    integer = ~subpixel & ~near_edge
    centres[base_y[integer], base_x[integer]] = 1
    keypoint_map = cv2.dilate(centres, kernel)
    scattered = subpixel & ~near_edge
    stamp = offsets[stamp_id[scattered]]
    keypoint_map[(base_y[scattered, None] + stamp[..., 0]).ravel(),
                 (base_x[scattered, None] + stamp[..., 1]).ravel()] = 1
    edge_centres = fixed[near_edge].tolist()
    if edge_centres:
        for center in edge_centres:
            _draw_ring(keypoint_map, tuple(center))
        np.minimum(keypoint_map, 1, out=keypoint_map)
    return keypoint_map


def point_keypoint_map(points: np.ndarray, height: int,
                       width: int) -> np.ndarray:
    """Mark the one pixel that holds each keypoint, as the paper's text says.

    Args:
        points (np.ndarray): Keypoint centres (N, 2) as (x, y) in pixels.
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        np.ndarray: (height, width) uint8 map with 1 at keypoint pixels.
    """
    keypoint_map = np.zeros((height, width), np.uint8)
    if len(points) == 0:
        return keypoint_map
    # Pixel centres sit at integer coordinates, so the nearest one holds the
    # keypoint; a centre in the outer half pixel of the image rounds onto the
    # edge, which is still the pixel that contains it.
    cols = np.clip(np.rint(points[:, 0]).astype(np.intp), 0, width - 1)
    rows = np.clip(np.rint(points[:, 1]).astype(np.intp), 0, height - 1)
    keypoint_map[rows, cols] = 1
    return keypoint_map


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
