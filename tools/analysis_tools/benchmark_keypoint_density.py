"""Time KeypointDensity per 192 px image against bare OpenCV detection.

For every detector, on the same random-resized 192 px crops of the photos
scikit-image ships (``mmkamim.datasets.sample_photos``), prints microseconds
per image for

* the bare OpenCV detection (``detector.detect`` on the uint8 BGR crop),
* ``KeypointDensity`` (detection, keypoint map, density, weights),
* the released code's way (detection, then ``cv2.drawKeypoints`` per image,
  then the density and weights in torch),

with the ratios to the bare detection. Runs on one thread, as a dataloader
worker does (mmengine sets ``opencv_num_threads=0``).

``--photos`` restricts the crops to some photos, e.g. the texture-rich
``grass gravel brick``, where FAST finds about 2000 keypoints per crop.

Example:
    python tools/analysis_tools/benchmark_keypoint_density.py --crops 200
"""
import argparse
import time
from functools import partial
from typing import Callable, List

import cv2
import numpy as np
import torch

from mmkamim.datasets.sample_photos import PHOTO_NAMES, photo_crops
from mmkamim.datasets.transforms import KeypointDensity


def time_per_image(fn: Callable, crops: List[np.ndarray],
                   repeats: int) -> float:
    """Best-of-``repeats`` mean microseconds per image."""
    for img in crops[:10]:
        fn(img)
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        for img in crops:
            fn(img)
        best = min(best, (time.perf_counter() - start) / len(crops))
    return best * 1e6


def released_weights(detector, patch_size: int, temperature: float):
    """The released code's per-image path, for reference."""
    weight = torch.full((1, 1, patch_size, patch_size), 1 / patch_size**2)

    def run(img: np.ndarray) -> torch.Tensor:
        rgb = img[..., ::-1]
        keypoints = detector.detect(rgb, None)
        drawn = cv2.drawKeypoints(
            np.zeros_like(rgb), keypoints, None, color=(255, 0, 0))[..., 0]
        feat = torch.from_numpy(drawn)[None, None].sign().float()
        density = torch.nn.functional.conv2d(feat, weight, stride=patch_size)
        w = torch.exp(torch.clip(density / temperature, -20, 20))
        return w / w.min()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--crops', type=int, default=200)
    parser.add_argument('--size', type=int, default=192)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--photos', nargs='+', default=list(PHOTO_NAMES),
                        choices=PHOTO_NAMES, metavar='PHOTO',
                        help='scikit-image photos to crop (default: all)')
    parser.add_argument('--detectors', nargs='+', default=['fast', 'orb',
                                                            'sift'])
    args = parser.parse_args()

    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    # Random resized crops, as RandomResizedCrop(scale=(0.67, 1)) makes.
    crops = photo_crops(args.crops, args.size, args.seed, (0.67, 1.0),
                        names=args.photos)
    rows = []
    for name in args.detectors:
        transform = KeypointDensity(detector=name)
        detector = transform.settings.build_detector()
        bare = time_per_image(partial(detector.detect, mask=None), crops,
                              args.repeats)
        ours = time_per_image(lambda img, t=transform: t.transform(
            {'img': img}), crops, args.repeats)
        released = time_per_image(
            released_weights(detector, transform.settings.patch_size,
                             transform.settings.temperature), crops,
            args.repeats)
        rows.append((name, bare, ours, released))

    print(f'{args.crops} crops of {args.size} px of '
          f'{" ".join(args.photos) if len(args.photos) < 5 else "all photos"}'
          f', one thread, best of {args.repeats}')
    print('| detector | bare detect (us) | KeypointDensity (us) | ratio '
          '| released code path (us) | ratio |')
    print('|---|---:|---:|---:|---:|---:|')
    for name, bare, ours, released in rows:
        print(f'| {name} | {bare:.0f} | {ours:.0f} | {ours / bare:.2f}x '
              f'| {released:.0f} | {released / bare:.2f}x |')


if __name__ == '__main__':
    main()
