import pickle

import cv2
import numpy as np
import pytest
import torch

from mmkamim.datasets.transforms import KeypointDensity

DETECTORS = {
    'fast': cv2.FastFeatureDetector_create,
    'orb': cv2.ORB_create,
    'sift': cv2.SIFT_create,
}


def released_weights(bgr: np.ndarray, detector: str, patch_size: int,
                     temperature: float):
    """The released KAMIM code's path: the RGB crop goes to OpenCV as is,
    drawKeypoints marks F, a strided average conv gives Omega, then
    exp(clip(Omega / T, -20, 20)) / min."""
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    keypoints = DETECTORS[detector]().detect(rgb, None)
    drawn = cv2.drawKeypoints(
        np.zeros_like(rgb), keypoints, None, color=(255, 0, 0))[..., 0]
    feat = torch.tensor(drawn)[None, None].sign().float()
    density = torch.nn.functional.conv2d(
        feat,
        torch.ones(1, 1, patch_size, patch_size) / patch_size**2,
        stride=patch_size)[0, 0]
    weights = torch.exp(torch.clip(density / temperature, -20, 20))
    return (feat[0, 0] > 0).numpy(), (weights / weights.min()).numpy()


@pytest.mark.parametrize('detector,patch_size,temperature',
                         [('fast', 8, 0.25), ('fast', 16, 0.1),
                          ('fast', 32, 1.0), ('orb', 8, 0.25),
                          ('sift', 8, 0.5)])
def test_reproduces_released_code(photo_crops, detector, patch_size,
                                  temperature):
    transform = KeypointDensity(
        detector=detector, patch_size=patch_size, temperature=temperature)
    for img in photo_crops:
        expected_map, expected = released_weights(img, detector, patch_size,
                                                  temperature)
        np.testing.assert_array_equal(
            transform.keypoint_map(img).astype(bool), expected_map)
        weights = transform(dict(img=img))['kp_weight']
        assert weights.dtype == np.float32
        assert weights.shape == (192 // patch_size, 192 // patch_size)
        np.testing.assert_allclose(weights, expected, rtol=2e-6, atol=0)


def test_min_weight_is_exactly_one(photo_crops):
    transform = KeypointDensity()
    coverage, weighted = [], 0
    for img in photo_crops:
        weights = transform(dict(img=img))['kp_weight']
        assert weights.min() == 1.0
        weighted += int(weights.max() > 1.0)
        coverage.append(transform.keypoint_map(img).mean())
    assert weighted >= 0.8 * len(photo_crops)
    # The released rasterisation covers a large part of natural crops.
    assert 0.2 < np.median(coverage) < 0.9


def test_gray_modes_and_channel_orders(photo_crops):
    img = photo_crops[0]
    rgb = np.ascontiguousarray(img[..., ::-1])
    released = KeypointDensity(gray='released')
    luma = KeypointDensity(gray='luma')
    # 'luma' sees what OpenCV sees when given the BGR image.
    keypoints = cv2.FastFeatureDetector_create().detect(img, None)
    expected = np.zeros(img.shape[:2], np.uint8)
    expected[cv2.KeyPoint_convert(keypoints)[:, 1].astype(int),
             cv2.KeyPoint_convert(keypoints)[:, 0].astype(int)] = 1
    np.testing.assert_array_equal(
        KeypointDensity(rasterize='point', gray='luma').keypoint_map(img),
        expected)
    # The two modes see different gray images of a colour photo.
    assert (released.keypoint_map(img) != luma.keypoint_map(img)).any()
    # Declaring the channel order makes both orders give the same result.
    for gray in ('released', 'luma'):
        np.testing.assert_array_equal(
            KeypointDensity(gray=gray).keypoint_map(img),
            KeypointDensity(gray=gray, channel_order='rgb').keypoint_map(rgb))


def test_gray_and_four_channel_images(photo_crops):
    img = photo_crops[1]
    transform = KeypointDensity()
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)  # 'released' gray of BGR
    from_gray = transform(dict(img=gray))['kp_weight']
    np.testing.assert_array_equal(
        from_gray, transform(dict(img=img))['kp_weight'])
    np.testing.assert_array_equal(
        transform(dict(img=gray[..., None]))['kp_weight'], from_gray)
    bgra = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    np.testing.assert_array_equal(
        transform(dict(img=bgra))['kp_weight'], from_gray)


def test_point_rasterization(photo_crops):
    img = photo_crops[2]
    point = KeypointDensity(rasterize='point')
    circle = KeypointDensity(rasterize='circle')
    point_map = point.keypoint_map(img)
    keypoints = cv2.FastFeatureDetector_create().detect(
        cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), None)
    assert point_map.sum() == len(keypoints)  # FAST positions are distinct
    assert point_map.sum() < circle.keypoint_map(img).sum()
    weights = point(dict(img=img))['kp_weight']
    assert weights.min() == 1.0
    counts = point_map.reshape(24, 8, 24, 8).sum((1, 3))
    np.testing.assert_allclose(
        weights,
        np.exp(counts / 64 / 0.25) / np.exp(counts.min() / 64 / 0.25),
        rtol=1e-5)


def test_no_keypoints_gives_ones():
    flat = np.full((64, 96, 3), 128, np.uint8)
    for detector in DETECTORS:
        weights = KeypointDensity(detector=detector)(dict(img=flat))
        np.testing.assert_array_equal(weights['kp_weight'],
                                      np.ones((8, 12), np.float32))


def test_detector_kwargs_reach_opencv(photo_crops):
    img = photo_crops[3]
    default = KeypointDensity().keypoint_map(img).sum()
    strict = KeypointDensity(detector_kwargs=dict(threshold=60))
    assert strict.keypoint_map(img).sum() < default
    few = KeypointDensity(detector='orb', detector_kwargs=dict(nfeatures=20))
    few_pixels = few.keypoint_map(img).sum()
    # At most 20 rings of <= 60 pixels, far fewer than ORB's default 500.
    assert few_pixels <= 20 * 60
    assert few_pixels < KeypointDensity(detector='orb').keypoint_map(img).sum()
    with pytest.raises(Exception, match='no_such_option'):
        KeypointDensity(detector_kwargs=dict(no_such_option=1))


def test_picklable_for_spawned_workers(photo_crops):
    transform = KeypointDensity(detector='orb', temperature=0.1)
    clone = pickle.loads(pickle.dumps(transform))
    img = photo_crops[4]
    np.testing.assert_array_equal(clone(dict(img=img))['kp_weight'],
                                  transform(dict(img=img))['kp_weight'])


@pytest.mark.parametrize('kwargs,message', [
    (dict(detector='harris'), "'fast', 'orb', 'sift'"),
    (dict(rasterize='disc'), "'circle', 'point'"),
    (dict(patch_size=0), 'patch_size.*0'),
    (dict(patch_size=8.0), 'patch_size.*8.0'),
    (dict(temperature=0), 'temperature.*0'),
    (dict(temperature=-0.5), 'temperature.*-0.5'),
    (dict(temperature=float('nan')), 'temperature.*nan'),
    (dict(gray='average'), "'luma', 'released'"),
    (dict(channel_order='hsv'), "'bgr', 'rgb'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KeypointDensity(**kwargs)


def test_bad_images():
    transform = KeypointDensity()
    with pytest.raises(ValueError, match='190x192.*patch_size=8'):
        transform(dict(img=np.zeros((190, 192, 3), np.uint8)))
    with pytest.raises(ValueError, match='float32'):
        transform(dict(img=np.zeros((64, 64, 3), np.float32)))
    with pytest.raises(ValueError, match=r'\(64, 64, 2\)'):
        transform(dict(img=np.zeros((64, 64, 2), np.uint8)))


def test_repr_names_every_setting_as_the_config_does():
    density = KeypointDensity(temperature=0.1, detector_kwargs=dict(
        threshold=20))
    text = repr(density)
    assert text == (
        "KeypointDensity(detector='fast', detector_kwargs={'threshold': 20}, "
        "rasterize='circle', patch_size=8, temperature=0.1, "
        "channel_order='bgr', gray='released')")
    assert eval(text, {'KeypointDensity': KeypointDensity}).settings == \
        density.settings
