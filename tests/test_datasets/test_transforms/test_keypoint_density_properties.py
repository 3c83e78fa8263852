"""Property tests of the keypoint weights over random inputs.

Hypothesis draws image sizes, contents (constant, noise, photo crops), the
cell size w_ps, the temperature T and the FAST threshold; for every draw the
weights are finite, the least is exactly 1, the shape is right, and the
device path (KAMIMDataPreprocessor) equals the transform bit for bit.
"""
import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmkamim.datasets.sample_photos import PHOTO_NAMES, load_photo
from mmkamim.datasets.transforms import KeypointDensity
from mmkamim.models import KAMIMDataPreprocessor

PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
PATCH_SIZES = st.sampled_from([4, 8, 16, 32])
TEMPERATURES = st.one_of(
    st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.5]),
    st.floats(0.05, 10.0, allow_nan=False, allow_infinity=False))
THRESHOLDS = st.integers(0, 80)


@st.composite
def images(draw, patch_size: int) -> np.ndarray:
    """A BGR uint8 image whose sides are multiples of ``patch_size``."""
    height = patch_size * draw(st.integers(1, max(1, 160 // patch_size)))
    width = patch_size * draw(st.integers(1, max(1, 160 // patch_size)))
    kind = draw(st.sampled_from(['constant', 'noise', 'photo']))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if kind == 'constant':
        return np.full((height, width, 3), draw(st.integers(0, 255)),
                       np.uint8)
    if kind == 'noise':
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    photo = load_photo(draw(st.sampled_from(PHOTO_NAMES)))
    top = rng.integers(0, max(1, photo.shape[0] - height + 1))
    left = rng.integers(0, max(1, photo.shape[1] - width + 1))
    # Every photo is at least 172 px on each side.
    return np.ascontiguousarray(photo[top:top + height, left:left + width])


@st.composite
def weight_settings(draw):
    patch_size = draw(PATCH_SIZES)
    return dict(
        patch_size=patch_size,
        temperature=draw(TEMPERATURES),
        detector_kwargs=dict(threshold=draw(THRESHOLDS),
                             nonmaxSuppression=draw(st.booleans())),
    ), draw(images(patch_size))


@PROPERTY
@given(weight_settings())
def test_weights_are_finite_least_one_and_shaped(case):
    kwargs, img = case
    weights = KeypointDensity(**kwargs).transform({'img': img})['kp_weight']
    ps = kwargs['patch_size']
    assert weights.dtype == np.float32
    assert weights.shape == (img.shape[0] // ps, img.shape[1] // ps)
    assert np.isfinite(weights).all()
    assert weights.min() == 1.0
    # The device path gives the same weights, bit for bit.
    device = KAMIMDataPreprocessor(**kwargs, compile=False).keypoint_weights(
        torch.from_numpy(img).permute(2, 0, 1)[None].contiguous())[0]
    assert np.array_equal(device.numpy(), weights)


