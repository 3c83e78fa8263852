import cv2
import numpy as np
import pytest

from mmkamim.keypoints.raster import (
    _INTEGER_SAFE_MARGIN,
    _ring_stamps,
    cell_counts,
    circle_keypoint_map,
    point_keypoint_map,
)

DETECTORS = {
    'fast': cv2.FastFeatureDetector_create,
    'orb': cv2.ORB_create,
    'sift': cv2.SIFT_create,
}


def draw_keypoints_map(img: np.ndarray, keypoints) -> np.ndarray:
    """The released code's map: drawKeypoints' non-zero pixels."""
    drawn = cv2.drawKeypoints(
        np.zeros_like(img), keypoints, None, color=(255, 0, 0))
    return (drawn[..., 0] > 0).astype(np.uint8)


def as_points(keypoints) -> np.ndarray:
    if not keypoints:
        return np.empty((0, 2), np.float32)
    return cv2.KeyPoint_convert(keypoints)


@pytest.mark.parametrize('name', sorted(DETECTORS))
def test_circle_map_equals_draw_keypoints(photo_crops, name):
    detector = DETECTORS[name]()
    checked_edge = False
    for img in photo_crops:
        keypoints = detector.detect(img, None)
        points = as_points(keypoints)
        ours = circle_keypoint_map(points, *img.shape[:2])
        np.testing.assert_array_equal(ours, draw_keypoints_map(img,
                                                               keypoints))
        checked_edge |= bool(len(points)) and bool(
            (points.min(0) < 4).any()
            or (points.max(0) > np.array(img.shape[1::-1]) - 5).any())
    # The photos must exercise rings that touch the image border.
    assert checked_edge or name == 'orb'


@pytest.mark.parametrize('name', sorted(DETECTORS))
def test_circle_map_equals_draw_keypoints_full_photos(name):
    from mmkamim.datasets.sample_photos import load_photo
    detector = DETECTORS[name]()
    for photo in ('astronaut', 'grass', 'coins', 'page'):
        img = load_photo(photo)
        keypoints = detector.detect(img, None)
        np.testing.assert_array_equal(
            circle_keypoint_map(as_points(keypoints), *img.shape[:2]),
            draw_keypoints_map(img, keypoints))


def test_circle_map_subpixel_and_edge_rings():
    # Every 1/16-pixel offset, in the interior and straddling each border.
    rng = np.random.default_rng(0)
    height, width = 40, 52
    fractions = np.arange(256)
    interior = np.stack([
        rng.integers(6, width - 7, 256) + (fractions % 16) / 16,
        rng.integers(6, height - 7, 256) + (fractions // 16) / 16
    ], 1).astype(np.float32)
    edges = np.array([[0.3, 20.6], [width - 0.7, 11.2], [25.1, 0.0],
                      [30.9, height - 1.4], [2.0, 2.0], [width - 3.0, 30.0],
                      [-0.4, -0.4], [width - 1.0, height - 1.0]], np.float32)
    for points in (interior, edges, np.concatenate([interior, edges])):
        keypoints = [cv2.KeyPoint(float(x), float(y), 7) for x, y in points]
        img = np.zeros((height, width, 3), np.uint8)
        np.testing.assert_array_equal(
            circle_keypoint_map(points, height, width),
            draw_keypoints_map(img, keypoints))


def test_integer_ring_margin_is_exact():
    """OpenCV's clipping leaves integer rings intact this far from edges."""
    offsets, _, _, _ = _ring_stamps()
    stamp = offsets[0]
    margin = _INTEGER_SAFE_MARGIN
    for height, width in ((192, 192), (17, 23)):
        for y in range(height):
            for x in range(width):
                if not (margin <= x < width - margin
                        and margin <= y < height - margin):
                    continue
                if margin + 2 <= x < width - margin - 2 and \
                        margin + 2 <= y < height - margin - 2:
                    continue  # far from every edge: nothing is clipped
                drawn = np.zeros((height, width), np.uint8)
                cv2.circle(drawn, (x * 16, y * 16), 48, 255, 1, cv2.LINE_AA,
                           4)
                rows, cols = y + stamp[:, 0], x + stamp[:, 1]
                inside = ((rows >= 0) & (rows < height) & (cols >= 0)
                          & (cols < width))
                expected = np.zeros((height, width), bool)
                expected[rows[inside], cols[inside]] = True
                np.testing.assert_array_equal(drawn > 0, expected)


def test_integer_ring_stamp_is_the_48_pixel_ring():
    *_, kernel = _ring_stamps()
    assert kernel.shape == (9, 9)
    assert kernel.sum() == 48
    assert kernel[4, 4] == 0 and kernel[0, 4] == 1 and kernel[4, 0] == 1


def test_empty_maps():
    empty = np.empty((0, 2), np.float32)
    assert not circle_keypoint_map(empty, 16, 24).any()
    assert point_keypoint_map(empty, 16, 24).shape == (16, 24)


def test_point_map_marks_the_keypoint_pixels():
    points = np.array([[3.0, 4.0], [10.4, 2.6], [15.6, 7.5], [10.2, 3.4]],
                      np.float32)
    keypoint_map = point_keypoint_map(points, 8, 16)
    expected = np.zeros((8, 16), np.uint8)
    # (x, y) rounded to the nearest pixel centre; 7.5 rounds to even (8)
    # and lies outside, so it stays on the last row.
    for x, y in ((3, 4), (10, 3), (15, 7)):
        expected[y, x] = 1
    np.testing.assert_array_equal(keypoint_map, expected)


def test_cell_counts_fast_path_matches_summed_area_table():
    rng = np.random.default_rng(0)
    keypoint_map = (rng.random((48, 72)) < 0.4).astype(np.uint8)
    keypoint_map[:8, :8] = 1  # a full cell: 64, the largest count
    expected = keypoint_map.reshape(6, 8, 9, 8).sum((1, 3))
    np.testing.assert_array_equal(cell_counts(keypoint_map, 8), expected)
    np.testing.assert_array_equal(
        cell_counts(keypoint_map, 24),
        keypoint_map.reshape(2, 24, 3, 24).sum((1, 3)))
