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
   bf16 AMP on CUDA; AdamW fused where torch has the kernel, as our runner
   builds it. With ``--compile``, each method also compiled (the model's
   forward, as ``compile=True`` does with our runner; the first, compiling
   call timed apart). With ``--compile-time``, each method is also compiled
   in a new process with empty inductor and Triton caches: the compile
   time nothing earlier on the machine shortens, dynamo's graph count and
   its graph breaks with their reasons. Each step's training FLOPs (3 x the
   forward of encoder and neck, counted by mmengine's ``FlopAnalyzer`` with
   attention added) give the achieved FLOP/s, reported as a fraction of a
   large matrix product's rate in the training dtype on the same device,
   measured in the same run (the practical peak); torch's profiler gives
   the part of the step spent in matrix products (linear layers,
   attention, convolutions), which compiling cannot shorten.

Example:
    python tools/analysis_tools/benchmark_pretraining.py --out bench.json
"""
import argparse
import copy
import json
import logging
import math
import os
import os.path as osp
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch._dynamo.utils import counters

import mmkamim  # noqa: F401  (registers mmkamim's components)
from mmkamim.datasets import SampleKey, SeededPipeline
from mmkamim.datasets.sample_photos import (
    PHOTO_NAMES,
    load_photo,
    random_scaled_crop,
)
from mmkamim.datasets.seeded_pipeline import declared_size
from mmkamim.engine.optimizers import with_fused_adam
from mmkamim.models.utils import compile_forward
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
        img = random_scaled_crop(load_photo(PHOTO_NAMES[i % len(PHOTO_NAMES)]),
                                 rng, 500, 375)
        path = osp.join(root, f'{i:04d}.jpg')
        cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 90])
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


def _attention_macs(inputs, outputs) -> int:
    """Multiply-adds of ``scaled_dot_product_attention`` (q k^T, then the
    weighted sum of v), which mmengine's counter leaves out."""
    query, key = get_shape(inputs[0]), get_shape(inputs[1])
    return 2 * math.prod(query[:-1]) * key[-2] * query[-1]


def training_flops(model, data: dict) -> float:
    """Training FLOPs of one step: 3 x the forward FLOPs (backward about
    twice the forward) of the encoder and neck, from mmengine's
    ``FlopAnalyzer`` (matrix products, convolutions and attention; one
    multiply-add = 2 FLOPs). Element-wise operations, the loss and KAMIM's
    integer FAST arithmetic are not counted."""
    model = copy.deepcopy(model).float().cpu().eval()
    images = data['inputs'].float().cpu()
    masks = torch.stack([s.mask for s in data['data_samples']]).cpu()
    with torch.no_grad():
        latent = model.backbone(images, masks)
    macs = 0
    for module, inputs in ((model.backbone, (images, masks)),
                           (model.neck, (latent[0], ))):
        analyzer = FlopAnalyzer(module, inputs)
        analyzer.set_op_handle('aten::scaled_dot_product_attention',
                               _attention_macs)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        macs += analyzer.total()
    return 3 * 2 * float(macs)


def matmul_rate(device: str, dtype: torch.dtype, size: int,
                repeats: int = 10) -> float:
    """FLOP/s of a large square matrix product in ``dtype`` on ``device``:
    the machine's practical dense peak, measured in the same run."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device, dtype)
    b = torch.randn(size, size, generator=generator).to(device, dtype)
    a @ b
    best = float('inf')
    for _ in range(3):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        if device == 'cuda':
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * size**3 / best


class StepTimer:
    """``model.train_step`` of one method, timed on its device."""

    def __init__(self, cfg: Config, data: dict, device: str, amp: bool,
                 compiled: bool = False):
        init_default_scope('mmpretrain')
        torch.manual_seed(0)
        self.model = MODELS.build(cfg.model).to(device)
        self.model.init_weights()
        self.model.train()
        optim_cfg = copy.deepcopy(cfg.optim_wrapper)
        if amp:
            optim_cfg.update(type='AmpOptimWrapper', dtype='bfloat16')
        # As our runner builds it: AdamW fused where torch has the kernel.
        self.optim = build_optim_wrapper(self.model,
                                         with_fused_adam(optim_cfg, device))
        self.data = data
        self.device = device
        self.peak_mb = 0.0
        self.compile_seconds = None
        if compiled:
            # As compile=True does with our runner (CheckedRunner): the
            # model's forward; the first call compiles, and is timed apart.
            compile_forward(self.model)
            self.sync()
            start = time.perf_counter()
            self.model.train_step(copy.copy(self.data), self.optim)
            self.sync()
            self.compile_seconds = time.perf_counter() - start

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


def step_times(timers: Dict, rounds: int, steps: int,
               warmup: int) -> Dict:
    """Median-round milliseconds per step, methods interleaved."""
    for timer in timers.values():
        timer.steps(warmup)
    times = {name: [] for name in timers}
    for r in range(rounds):
        for name in rotated(list(timers), r):
            times[name].append(timers[name].steps(steps) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


# Operators whose time is a matrix product's: linear layers, attention,
# convolutions (forward and backward, eager or called by compiled code).
MATRIX_OPS = ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm',
              'convolution', 'scaled_dot_product')


def matrix_ms(timer: StepTimer, steps: int) -> float:
    """Milliseconds per step that torch's profiler attributes to matrix
    products (the operators of ``MATRIX_OPS``, self time on the device)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if timer.device == 'cuda':
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        timer.steps(steps)
    total = 0.0
    for event in profile.key_averages():
        if any(op in event.key for op in MATRIX_OPS):
            total += (event.self_device_time_total if timer.device == 'cuda'
                      else event.self_cpu_time_total)
    return total / 1e3 / steps


def adamw_step_ms(model: torch.nn.Module, device: str, rounds: int,
                  steps: int) -> Dict[str, float]:
    """Milliseconds of one AdamW step alone over ``model``'s parameters:
    torch's Python loop, its multi-tensor ``foreach`` path and its fused
    kernel (median of ``rounds`` rounds of ``steps`` steps)."""
    result = {}
    for name, option in (('loop', dict(foreach=False, fused=False)),
                         ('foreach', dict(foreach=True)),
                         ('fused', dict(fused=True))):
        params = [p.detach().clone().requires_grad_() for p in
                  model.parameters()]
        for p in params:
            p.grad = torch.full_like(p, 1e-3)
        optimizer = torch.optim.AdamW(params, lr=1e-4, **option)
        optimizer.step()
        times = []
        for _ in range(rounds):
            if device == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                optimizer.step()
            if device == 'cuda':
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / steps * 1e3)
        result[name] = statistics.median(times)
    return result


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


def graph_breaks() -> Dict[str, int]:
    """Dynamo's graph breaks in this process so far: each reason's first
    line and the line of code it broke at, with how often."""
    found = {}
    for reason, count in counters['graph_break'].items():
        code = re.search(r'code: (.*)', reason)
        key = reason.splitlines()[0] + (f' at `{code.group(1).strip()}`'
                                        if code else '')
        found[key] = found.get(key, 0) + count
    return found


def compile_in_fresh_process(method: str, args: argparse.Namespace,
                             device: str, arch: str, batch: int,
                             steps: int) -> dict:
    """Compile one method's step in a new process whose inductor and Triton
    caches start empty, so nothing compiled before on this machine (or by
    another method) is reused; what :func:`compile_time_of` printed."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache,
                   TRITON_CACHE_DIR=osp.join(cache, 'triton'))
        command = [
            sys.executable, osp.abspath(__file__), '--compile-time-of',
            method, '--device', device, '--arch', arch, '--batch',
            str(batch), '--steps', str(steps), '--rounds', str(args.rounds)
        ] + (['--no-amp'] if args.no_amp else [])
        done = subprocess.run(command, env=env, capture_output=True,
                              text=True)
        if done.returncode:
            raise RuntimeError(f'{" ".join(command)} failed:\n'
                               f'{done.stderr[-3000:]}')
        return json.loads(done.stdout.strip().splitlines()[-1])


def compile_time_of(cfg: Config, device: str, amp: bool, batch: int,
                    steps: int, rounds: int) -> dict:
    """The first (compiling) step of ``cfg`` compiled, its later steps, and
    dynamo's graphs and graph breaks."""
    torch._dynamo.reset()
    counters.clear()
    with tempfile.TemporaryDirectory() as root:
        paths = imagenet_sized_jpegs(root, min(batch, 64))
        data = batch_from(Compose(cfg.train_dataloader.dataset.pipeline),
                          paths, batch)
    timer = StepTimer(cfg, data, device, amp, compiled=True)
    step = statistics.median(timer.steps(steps) for _ in range(rounds))
    return dict(first_step_s=timer.compile_seconds, step_s=step,
                compile_s=timer.compile_seconds - step,
                graphs=counters['stats']['unique_graphs'],
                graph_breaks=graph_breaks())


def table(title: str, rows: List[List[str]], header: List[str]) -> str:
    lines = [title, '| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] + ['---:'] * (len(header) - 1)) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines)


def parse_args() -> argparse.Namespace:
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
    parser.add_argument('--compile', action='store_true',
                        help='also time each step compiled (the model\'s '
                        'forward, as compile=True does with our runner)')
    parser.add_argument('--compile-time', action='store_true',
                        help='also compile each method in a new process '
                        'with empty inductor and Triton caches, and report '
                        'the compile time and the graph breaks')
    parser.add_argument('--compile-time-of', help=argparse.SUPPRESS)
    parser.add_argument('--matmul-size', type=int, default=None,
                        help='side of the matrix product that measures the '
                        'peak (default: 8192 on CUDA, 2048 on the CPU)')
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--skip-steps', action='store_true')
    parser.add_argument('--out', help='JSON file for the results')
    return parser.parse_args()


def pipeline_section(methods: Dict[str, Config], kamim: Config,
                     paths: List[str], args: argparse.Namespace, arch: str,
                     result: dict) -> None:
    """Time every train pipeline per worker (one thread, with the pixel
    limit training applies) and the header read; print the table."""
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
        ['pipeline', 'ms / image', 'images / s', 'throughput vs SimMIM']))
    result['header_read_us'], result['decode_us'] = header, decode
    print(f'of which the pixel-limit header read: {header:.0f} us '
          f'per image (decoding the same JPEG: {decode:.0f} us)')
    torch.set_num_threads(threads)


def step_section(methods: Dict[str, Config], paths: List[str],
                 args: argparse.Namespace, run: argparse.Namespace,
                 result: dict) -> None:
    """Time every method's training step (eager, and compiled with
    ``--compile``), its matrix products, the device weights and the AdamW
    step alone, against the machine's matrix-product rate; print the
    table."""
    timers = {}
    modes = ['eager'] + (['compiled'] if args.compile else [])
    for name, cfg in methods.items():
        pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
        data = batch_from(pipeline, paths, run.batch)
        for mode in modes:
            timers[(name, mode)] = StepTimer(
                cfg, data, run.device, run.amp, compiled=mode == 'compiled')
    ms = step_times(timers, args.rounds, run.steps, args.warmup)
    matrix = {key: matrix_ms(timer, run.steps)
              for key, timer in timers.items()}
    alone = weights_alone(timers[('KAMIM (device)', 'eager')], args.rounds,
                          run.steps)
    result['device_weights_ms_per_batch'] = alone
    adamw = adamw_step_ms(timers[('SimMIM', 'eager')].model, run.device,
                          args.rounds, run.steps)
    result['adamw_step_ms'] = adamw
    simmim_timer = timers[('SimMIM', 'eager')]
    flops = training_flops(simmim_timer.model, simmim_timer.data)
    dtype = torch.bfloat16 if run.amp else torch.float32
    size = args.matmul_size or (8192 if run.cuda else 2048)
    peak = matmul_rate(run.device, dtype, size)
    result.update(
        step_ms={f'{n} ({m})': t for (n, m), t in ms.items()},
        matrix_ms={f'{n} ({m})': t for (n, m), t in matrix.items()},
        compile_seconds={
            f'{n} ({m})': t.compile_seconds
            for (n, m), t in timers.items() if t.compile_seconds},
        training_flops_per_step=flops, matmul_flops_per_s=peak,
        matmul=dict(size=size, dtype=str(dtype)), arch=run.arch,
        batch=run.batch, amp=run.amp,
        peak_memory_mb={f'{n} ({m})': t.peak_mb
                        for (n, m), t in timers.items()}
        if run.cuda else None)
    print()
    print(step_table(timers, ms, matrix, flops, peak, args, run))
    print(f'training FLOPs per step: {flops / 1e9:.1f} G (3 x the '
          'forward of encoder and neck, FlopAnalyzer\'s matrix '
          'products and attention; FAST not counted); matmul peak: '
          f'{peak / 1e12:.3f} TFLOP/s ({size} x {size}, {dtype}); '
          'matrix products: the profiler\'s self time of '
          f'{", ".join(MATRIX_OPS)} per step')
    pre = timers[('KAMIM (device)', 'eager')].model.data_preprocessor
    how = 'compiled' if pre.compiled else 'eager'
    print(f'KAMIMDataPreprocessor.keypoint_weights alone: '
          f'{alone:.2f} ms per batch of {run.batch} ({how})')
    print('AdamW step alone, SimMIM\'s parameters: ' + ', '.join(
        f'{name} {t:.1f} ms' for name, t in adamw.items()) +
          ' (our runner uses fused where torch has it)')


def step_table(timers: Dict, ms: Dict, matrix: Dict, flops: float,
               peak: float, args: argparse.Namespace,
               run: argparse.Namespace) -> str:
    """The training-step table: time, throughput, ratio to eager SimMIM,
    matrix products, achieved rate and its share of the peak."""
    base = ms[('SimMIM', 'eager')]
    rows = []
    for (name, mode), t in ms.items():
        timer = timers[(name, mode)]
        achieved = flops / (t / 1e3)
        row = [name, mode, f'{t:.1f}', f'{run.batch / t * 1e3:.0f}',
               f'{t / base:.3f}', f'{matrix[(name, mode)]:.1f}',
               f'{achieved / 1e12:.3f}', f'{100 * achieved / peak:.1f}',
               f'{timer.compile_seconds:.0f}'
               if timer.compile_seconds else '-']
        if run.cuda:
            row.append(f'{timer.peak_mb:.0f}')
        rows.append(row)
    return table(
        f'Training step ({run.arch}, batch {run.batch}, {run.device}'
        f'{", bf16 AMP" if run.amp else ""}; median of {args.rounds} '
        f'interleaved rounds of {run.steps} steps):', rows,
        ['method', 'mode', 'ms / step', 'images / s', 'vs SimMIM',
         'matrix products (ms)', 'TFLOP/s', '% of matmul peak',
         'compile (s)'] + (['peak memory (MB)'] if run.cuda else []))


def fresh_compile_section(methods: Dict[str, Config],
                          args: argparse.Namespace,
                          run: argparse.Namespace, result: dict) -> None:
    """Compile every method in a new process with empty caches; print the
    compile times and graph breaks."""
    fresh = {
        name: compile_in_fresh_process(name, args, run.device, run.arch,
                                       run.batch, run.steps)
        for name in methods
    }
    result['fresh_compile'] = fresh
    base = fresh['SimMIM']['compile_s']
    print()
    print(table(
        f'Compiling ({run.arch}, batch {run.batch}, {run.device}'
        f'{", bf16 AMP" if run.amp else ""}), each method in a new process '
        'with empty inductor and Triton caches:',
        [[name, f'{r["first_step_s"]:.1f}', f'{r["step_s"] * 1e3:.1f}',
          f'{r["compile_s"]:.1f}', f'{r["compile_s"] / base:.2f}',
          str(r['graphs']), str(sum(r['graph_breaks'].values()))]
         for name, r in fresh.items()],
        ['method', 'first step (s)', 'later steps (ms)', 'compile (s)',
         'compile vs SimMIM', 'graphs', 'graph breaks']))
    for name, r in fresh.items():
        for reason, count in r['graph_breaks'].items():
            print(f'{name}: {count} x {reason}')


def run_settings(args: argparse.Namespace) -> argparse.Namespace:
    """Device, architecture, batch, steps per round and AMP: the options'
    or the device's defaults."""
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cuda = device == 'cuda'
    return argparse.Namespace(
        device=device, cuda=cuda,
        arch=args.arch or ('vit-base' if cuda else 'vit-tiny'),
        batch=args.batch or (256 if cuda else 8),
        steps=args.steps or (10 if cuda else 2),
        amp=cuda and not args.no_amp)


def main() -> None:
    args = parse_args()
    run = run_settings(args)
    kamim = config(f'kamim_{run.arch}_8xb256_in1k.py')
    methods = {
        'SimMIM': config(f'simmim_{run.arch}_8xb256_in1k.py'),
        'KAMIM (device)': kamim,
        'KAMIM (CPU FAST)': cpu_transform(kamim, 'fast'),
    }
    init_default_scope('mmpretrain')
    # init_weights logs every parameter at INFO.
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    if args.compile_time_of:  # the new process of compile_in_fresh_process
        print(json.dumps(compile_time_of(methods[args.compile_time_of],
                                         run.device, run.amp, run.batch,
                                         run.steps, args.rounds)))
        return
    result = dict(
        date=time.strftime('%Y-%m-%d'), device=run.device,
        device_name=(torch.cuda.get_device_name() if run.cuda else
                     f'{os.cpu_count()} CPU cores'),
        torch=torch.__version__, opencv=cv2.__version__)
    with tempfile.TemporaryDirectory() as root:
        paths = imagenet_sized_jpegs(root, args.images)
        if not args.skip_pipeline:
            pipeline_section(methods, kamim, paths, args, run.arch, result)
        if not args.skip_steps:
            step_section(methods, paths, args, run, result)
    if args.compile_time:
        fresh_compile_section(methods, args, run, result)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        print(f'\nwritten: {args.out}')


if __name__ == '__main__':
    main()
