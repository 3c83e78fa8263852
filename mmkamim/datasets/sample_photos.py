"""Real photos that scikit-image ships, for tests, benchmarks and the demo.

Nothing is downloaded: these images are inside the scikit-image wheel
(install the ``demo`` or ``tests`` extra).
"""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

#: Natural and scientific photos in ``skimage.data`` that need no download.
#: (``cat`` is left out: it is the same image as ``chelsea``.)
PHOTO_NAMES: Tuple[str, ...] = (
    'astronaut', 'coffee', 'chelsea', 'rocket', 'camera', 'coins', 'brick',
    'grass', 'gravel', 'page', 'text', 'moon', 'immunohistochemistry',
    'hubble_deep_field', 'retina', 'colorwheel', 'cell', 'clock')


def load_photo(name: str) -> np.ndarray:
    """Load a ``skimage.data`` photo as a uint8 BGR (H, W, 3) image.

    Gray photos are repeated to three channels and an alpha channel is
    dropped, so every photo looks like what ``LoadImageFromFile`` gives.

    Args:
        name (str): One of :data:`PHOTO_NAMES`.

    Returns:
        np.ndarray: uint8 (H, W, 3) in BGR order.
    """
    if name not in PHOTO_NAMES:
        raise ValueError(f'unknown photo {name!r}; choose one of '
                         f'{list(PHOTO_NAMES)}')
    from skimage import data
    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., 2::-1])


def random_square_crop(img: np.ndarray, rng: np.random.Generator,
                       side_range: Tuple[float, float], size: int,
                       interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """A random square crop of ``img``, resized to ``size``.

    Args:
        img (np.ndarray): (H, W, C) image.
        rng (np.random.Generator): Draws the side (a fraction in
            ``side_range`` of the shorter side), then the top, then the left.
        side_range (tuple[float, float]): Fractions of the shorter side.
        size (int): Output side in pixels.
        interpolation (int): OpenCV interpolation of the resize.

    Returns:
        np.ndarray: (size, size, C) crop, of ``img``'s dtype.
    """
    height, width = img.shape[:2]
    side = int(min(height, width) * rng.uniform(*side_range))
    top = rng.integers(0, height - side + 1)
    left = rng.integers(0, width - side + 1)
    return cv2.resize(img[top:top + side, left:left + side], (size, size),
                      interpolation=interpolation)


def random_scaled_crop(img: np.ndarray,
                       rng: np.random.Generator,
                       width: int,
                       height: int,
                       scale_range: Tuple[float, float] = (1.0, 1.6),
                       interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """A ``width`` x ``height`` crop of ``img`` after resizing it by a
    random factor of ``scale_range`` times the smallest scale that holds
    the crop (an image of a given size, not a square patch).

    Args:
        img (np.ndarray): (H, W, C) image.
        rng (np.random.Generator): Draws the scale, then the top, then the
            left.
        width (int): Crop width in pixels.
        height (int): Crop height in pixels.
        scale_range (tuple[float, float]): Factors over the smallest scale.
        interpolation (int): OpenCV interpolation of the resize.

    Returns:
        np.ndarray: (height, width, C) crop, of ``img``'s dtype.
    """
    rows, cols = img.shape[:2]
    scale = rng.uniform(*scale_range) * max(width / cols, height / rows)
    img = cv2.resize(img, (max(width, round(cols * scale)),
                           max(height, round(rows * scale))),
                     interpolation=interpolation)
    top = rng.integers(0, img.shape[0] - height + 1)
    left = rng.integers(0, img.shape[1] - width + 1)
    return img[top:top + height, left:left + width]


def photo_crops(count: int,
                size: int,
                seed: int,
                side_range: Tuple[float, float],
                interpolation: int = cv2.INTER_LINEAR,
                names: Sequence[str] = PHOTO_NAMES) -> List[np.ndarray]:
    """``count`` BGR uint8 crops (:func:`random_square_crop`) of the photos,
    taken in turn."""
    rng = np.random.default_rng(seed)
    photos = [load_photo(name) for name in names]
    return [
        random_square_crop(photos[i % len(photos)], rng, side_range, size,
                           interpolation) for i in range(count)
    ]


def make_photo_dataset(root: str,
                       train_per_class: int = 24,
                       val_per_class: int = 8,
                       size: int = 128,
                       val_fraction: float = 0.4,
                       seed: int = 0) -> Dict[str, int]:
    """Write a small labelled image dataset made from :data:`PHOTO_NAMES`.

    Each photo is a class. Its left ``1 - val_fraction`` (by width) gives the
    training images and the rest the validation images, so the two splits
    share no pixels: recognising a validation crop means recognising the
    photo's appearance, not memorising a patch. Every image is a random
    square crop (side 35-60 % of the region's shorter side) resized to
    ``size`` px. The layout is MMPretrain's ``CustomDataset`` one:
    ``root/{train,val}/<photo>/<index>.png``.

    Args:
        root (str): Output folder; created if missing.
        train_per_class (int): Training images per class. Defaults to 24.
        val_per_class (int): Validation images per class. Defaults to 8.
        size (int): Side of the saved square images in pixels.
            Defaults to 128.
        val_fraction (float): Share of each photo's width kept for
            validation. Defaults to 0.4.
        seed (int): Seed of the crop positions. Defaults to 0.

    Returns:
        dict[str, int]: Number of images written per split.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction}')
    rng = np.random.default_rng(seed)
    written = {'train': 0, 'val': 0}
    for name in PHOTO_NAMES:
        img = load_photo(name)
        cut = int(img.shape[1] * (1 - val_fraction))
        regions = {'train': img[:, :cut], 'val': img[:, cut:]}
        counts = {'train': train_per_class, 'val': val_per_class}
        for split, region in regions.items():
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(counts[split]):
                crop = random_square_crop(region, rng, (0.35, 0.6), size,
                                          cv2.INTER_AREA)
                cv2.imwrite(osp.join(folder, f'{i:03d}.png'), crop)
                written[split] += 1
    return written
