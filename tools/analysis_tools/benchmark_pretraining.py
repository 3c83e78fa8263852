"""Pre-training cost of KAMIM against SimMIM: data pipeline and train step.

Two measurements on the project's own configs, printed as tables and
written to JSON:

1. **Data pipeline, per worker**: images per second of the train pipeline of
   SimMIM, KAMIM with its weights on the device (the pipeline is SimMIM's),
   and KAMIM with the ``KeypointDensity`` transform (FAST, ORB, SIFT), on
   the same ImageNet-sized JPEG files (decoding, the per-sample seeding
   and the ``max_pixels`` header read of ``ReproducibleSampler`` included,
   the header read also timed alone), in one thread as a dataloader
   worker runs. Methods are interleaved round by round, in a
   rotating order, so that drift cancels; the median round is reported.
2. **Training step**: ``model.train_step`` (data preprocessor, forward,
   backward, optimiser step) of SimMIM, KAMIM (device path) and KAMIM (CPU
   transform: weights precomputed in the batch) on the same model, batch and
   device, interleaved; peak memory (``torch.cuda.max_memory_allocated``) on
   CUDA only. Defaults: ViT-T, batch 8 on the CPU; ViT-B, batch 256 with
   bf16 AMP on CUDA.

Example:
    python tools/analysis_tools/benchmark_pretraining.py --out bench.json
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import random
import statistics
import tempfile
import time
from typing import Dict, List, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.datasets import SampleKey, SeededPipeline
from mmkamim.datasets.sample_photos import PHOTO_NAMES, load_photo
from mmkamim.datasets.seeded_pipeline import declared_size
from mmkamim.utils import keypoints_in_pipeline

# ReproducibleSampler's default pixel limit, which training applies.
MAX_PIXELS = 10**8

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def config(name: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', name))


def cpu_transform(cfg: Config, detector: str) -> Config:
    """``cfg`` with its keypoint weights from KeypointDensity(detector)."""
    cfg = copy.deepcopy(cfg)
    cfg.model.data_preprocessor.detector = detector
    return keypoints_in_pipeline(cfg)


def imagenet_sized_jpegs(root: str, count: int, seed: int = 0) -> List[str]:
    """JPEGs of 500 x 375 px (ImageNet's typical size) cut from the photos
    scikit-image ships, saved at quality 90."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        img = load_photo(PHOTO_NAMES[i % len(PHOTO_NAMES)])
        height, width = img.shape[:2]
        scale = rng.uniform(1.0, 1.6) * max(500 / width, 375 / height)
        img = cv2.resize(img, (max(500, round(width * scale)),
                               max(375, round(height * scale))),
                         interpolation=cv2.INTER_AREA)
        top = rng.integers(0, img.shape[0] - 375 + 1)
        left = rng.integers(0, img.shape[1] - 500 + 1)
        path = osp.join(root, f'{i:04d}.jpg')
        cv2.imwrite(path, img[top:top + 375, left:left + 500],
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def rotated(names: List[str], shift: int) -> List[str]:
    """``names`` starting at ``shift``: each round begins with another
    method, so that no method always runs first (cold caches)."""
    shift %= len(names)
    return names[shift:] + names[:shift]


def run_pipeline(pipeline: SeededPipeline, paths: List[str],
                 seed: int) -> None:
    """Every file through the pipeline, seeded per sample as
    ReproducibleSampler seeds it in training."""
    for i, path in enumerate(paths):
        pipeline(dict(img_path=path, sample_idx=SampleKey(i, seed, 0)))


def pipeline_throughput(pipelines: Dict[str, Compose], paths: List[str],
                        rounds: int) -> Dict[str, float]:
    """Median-round milliseconds per image of each pipeline, interleaved."""
    times = {name: [] for name in pipelines}
    for pipeline in pipelines.values():  # warm-up
        run_pipeline(pipeline, paths[:8], 0)
    names = list(pipelines)
    for r in range(rounds):
        for name in rotated(names, r):
            pipeline = pipelines[name]
            start = time.perf_counter()
            run_pipeline(pipeline, paths, r * len(paths))
            times[name].append(
                (time.perf_counter() - start) / len(paths) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def header_and_decode(paths: List[str], rounds: int) -> Tuple[float, float]:
    """Median-round microseconds per image to read the declared size (the
    ``max_pixels`` check) and to decode the image."""
    header, decode = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for path in paths:
            declared_size(path)
        header.append((time.perf_counter() - start) / len(paths) * 1e6)
        start = time.perf_counter()
        for path in paths:
            cv2.imread(path, cv2.IMREAD_COLOR)
        decode.append((time.perf_counter() - start) / len(paths) * 1e6)
    return statistics.median(header), statistics.median(decode)


def batch_from(pipeline: Compose, paths: List[str], size: int) -> dict:
    samples = []
    for i in range(size):
        random.seed(i)
        np.random.seed(i)
        samples.append(pipeline(dict(img_path=paths[i % len(paths)])))
    data = default_collate(samples)
    if torch.cuda.is_available():
        data['inputs'] = data['inputs'].pin_memory()
    return data


class StepTimer:
    """``model.train_step`` of one method, timed on its device."""

    def __init__(self, cfg: Config, data: dict, device: str, amp: bool):
        init_default_scope('mmpretrain')
        torch.manual_seed(0)
        self.model = MODELS.build(cfg.model).to(device)
        self.model.init_weights()
        self.model.train()
        optim_cfg = copy.deepcopy(cfg.optim_wrapper)
        if amp:
            optim_cfg.update(type='AmpOptimWrapper', dtype='bfloat16')
        self.optim = build_optim_wrapper(self.model, optim_cfg)
        self.data = data
        self.device = device
        self.peak_mb = 0.0

    def sync(self) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()

    def steps(self, count: int) -> float:
        """Mean seconds per step over ``count`` steps."""
        if self.device == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        self.sync()
        start = time.perf_counter()
        for _ in range(count):
            self.model.train_step(copy.copy(self.data), self.optim)
        self.sync()
        elapsed = (time.perf_counter() - start) / count
        if self.device == 'cuda':
            self.peak_mb = max(self.peak_mb,
                               torch.cuda.max_memory_allocated() / 2**20)
        return elapsed


def step_times(timers: Dict[str, StepTimer], rounds: int, steps: int,
               warmup: int) -> Dict[str, float]:
    """Median-round milliseconds per step, methods interleaved."""
    for timer in timers.values():
        timer.steps(warmup)
    times = {name: [] for name in timers}
    for r in range(rounds):
        for name in rotated(list(timers), r):
            times[name].append(timers[name].steps(steps) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def weights_alone(timer: StepTimer, rounds: int, steps: int) -> float:
    """Milliseconds per batch of ``KAMIMDataPreprocessor.keypoint_weights``
    alone, on the batch already on the device."""
    images = timer.data['inputs'].to(timer.device)
    preprocessor = timer.model.data_preprocessor
    preprocessor.keypoint_weights(images)
    times = []
    for _ in range(rounds):
        timer.sync()
        start = time.perf_counter()
        for _ in range(steps):
            preprocessor.keypoint_weights(images)
        timer.sync()
        times.append((time.perf_counter() - start) / steps * 1e3)
    return statistics.median(times)


def table(title: str, rows: List[List[str]], header: List[str]) -> str:
    lines = [title, '| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default=None,
                        help='cuda or cpu (default: cuda when available)')
    parser.add_argument('--images', type=int, default=64,
                        help='JPEG files for the pipeline measurement')
    parser.add_argument('--pipeline-rounds', type=int, default=5)
    parser.add_argument('--arch', default=None,
                        help='vit-tiny/vit-small/vit-base (default: vit-base '
                        'on CUDA, vit-tiny on the CPU)')
    parser.add_argument('--batch', type=int, default=None,
                        help='default: 256 on CUDA, 8 on the CPU')
    parser.add_argument('--no-amp', action='store_true',
                        help='no bf16 autocast on CUDA')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--steps', type=int, default=None,
                        help='steps per round (default: 10 CUDA, 2 CPU)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--skip-steps', action='store_true')
    parser.add_argument('--out', help='JSON file for the results')
    args = parser.parse_args()

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cuda = device == 'cuda'
    arch = args.arch or ('vit-base' if cuda else 'vit-tiny')
    batch = args.batch or (256 if cuda else 8)
    steps = args.steps or (10 if cuda else 2)
    amp = cuda and not args.no_amp
    simmim = config(f'simmim_{arch}_8xb256_in1k.py')
    kamim = config(f'kamim_{arch}_8xb256_in1k.py')
    methods = {
        'SimMIM': simmim,
        'KAMIM (device)': kamim,
        'KAMIM (CPU FAST)': cpu_transform(kamim, 'fast'),
    }
    result = dict(
        date=time.strftime('%Y-%m-%d'), device=device,
        device_name=(torch.cuda.get_device_name() if cuda else
                     f'{os.cpu_count()} CPU cores'),
        torch=torch.__version__, opencv=cv2.__version__)
    init_default_scope('mmpretrain')
    # init_weights logs every parameter at INFO.
    MMLogger.get_current_instance().setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as root:
        paths = imagenet_sized_jpegs(root, args.images)
        if not args.skip_pipeline:
            # One thread, as in a dataloader worker.
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            cv2.setNumThreads(1)
            # With the pixel limit training applies (a header read first).
            pipelines = {
                name: SeededPipeline(
                    Compose(cfg.train_dataloader.dataset.pipeline),
                    max_pixels=MAX_PIXELS)
                for name, cfg in methods.items()
            }
            for detector in ('orb', 'sift'):
                pipelines[f'KAMIM (CPU {detector.upper()})'] = SeededPipeline(
                    Compose(cpu_transform(kamim, detector).train_dataloader
                            .dataset.pipeline), max_pixels=MAX_PIXELS)
            ms = pipeline_throughput(pipelines, paths, args.pipeline_rounds)
            header, decode = header_and_decode(paths, args.pipeline_rounds)
            cv2.setNumThreads(-1)
            base = ms['SimMIM']
            result['pipeline_ms_per_image'] = ms
            print(table(
                f'Data pipeline per worker ({arch} configs, {len(paths)} '
                '500x375 JPEGs, 1 thread, median of '
                f'{args.pipeline_rounds} interleaved rounds):',
                [[name, f'{t:.3f}', f'{1e3 / t:.0f}', f'{base / t:.2f}']
                 for name, t in ms.items()],
                ['pipeline', 'ms / image', 'images / s',
                 'throughput vs SimMIM']))
            result['header_read_us'], result['decode_us'] = header, decode
            print(f'of which the pixel-limit header read: {header:.0f} us '
                  f'per image (decoding the same JPEG: {decode:.0f} us)')
            torch.set_num_threads(threads)

        if not args.skip_steps:
            timers = {}
            for name, cfg in methods.items():
                pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
                timers[name] = StepTimer(cfg, batch_from(pipeline, paths,
                                                         batch), device, amp)
            ms = step_times(timers, args.rounds, steps, args.warmup)
            alone = weights_alone(timers['KAMIM (device)'], args.rounds,
                                  steps)
            result['device_weights_ms_per_batch'] = alone
            base = ms['SimMIM']
            result.update(
                step_ms=ms, arch=arch, batch=batch, amp=amp,
                peak_memory_mb={n: t.peak_mb for n, t in timers.items()}
                if cuda else None)
            rows = []
            for name, t in ms.items():
                row = [name, f'{t:.1f}', f'{t / base:.3f}']
                if cuda:
                    row.append(f'{timers[name].peak_mb:.0f}')
                rows.append(row)
            print()
            print(table(
                f'Training step ({arch}, batch {batch}, {device}'
                f'{", bf16 AMP" if amp else ""}; median of {args.rounds} '
                f'interleaved rounds of {steps} steps):', rows,
                ['method', 'ms / step', 'vs SimMIM'] +
                (['peak memory (MB)'] if cuda else [])))
            pre = timers['KAMIM (device)'].model.data_preprocessor
            how = 'compiled' if pre.compiled else 'eager'
            print(f'KAMIMDataPreprocessor.keypoint_weights alone: '
                  f'{alone:.2f} ms per batch of {batch} ({how})')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'\nwritten: {args.out}')


if __name__ == '__main__':
    main()
