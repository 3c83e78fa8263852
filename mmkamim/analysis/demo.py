"""The embedded demo: KAMIM, SimMIM and PixMIM on photos scikit-image ships.

Nothing is downloaded. The dataset (18 classes, one per photo, training and
validation crops from disjoint parts of each photo) is described in
:func:`mmkamim.datasets.sample_photos.make_photo_dataset`.
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

from ..datasets.sample_photos import PHOTO_NAMES, make_photo_dataset
from ..utils import project_dir
from .compare import compare, keypoint_examples, markdown_table

#: Demo runs: label and pre-training config (relative to ``configs/``).
DEMO_RUNS: Dict[str, str] = {
    'SimMIM': 'demo/simmim_vit-micro_1xb32_photos-96px.py',
    'KAMIM': 'demo/kamim_vit-micro_1xb32_photos-96px.py',
    'PixMIM': 'demo/pixmim_vit-micro_1xb32_photos-96px.py',
}
DEMO_PROBE = 'demo/vit-micro-p16_1xb32-linear_photos-96px.py'
# Validation photos whose keypoint weights the figure shows (at 192 px, with
# KAMIM's settings: FAST, w_ps 8, T 0.25).
EXAMPLE_PHOTOS = ('astronaut', 'coffee', 'brick')


def demo_config(name: str) -> str:
    """The path of a demo config (``name`` relative to ``configs/``)."""
    return osp.join(project_dir('configs'), name)


def schedule_options(epochs: int, warmup: int) -> dict:
    """Overrides that fit a config's warm-up + cosine schedule to ``epochs``.
    """
    return {
        'train_cfg.max_epochs': epochs,
        'param_scheduler.0.end': warmup,
        'param_scheduler.1.begin': warmup,
        'param_scheduler.1.T_max': epochs - warmup,
        'param_scheduler.1.end': epochs,
    }


def knn_options(bank_size: int) -> dict:
    """The default neighbour counts (10, 20, 100, 200) that fit a bank of
    ``bank_size`` images, for the reduced demo's smaller banks."""
    ks = [k for k in (10, 20, 100, 200) if k <= bank_size]
    if not ks:
        raise ValueError(f'a k-NN bank of {bank_size} images is too small: '
                         'the demo needs >= 10 training images')
    if len(ks) == 4:
        return {}
    return {'val_evaluator.ks': tuple(ks),
            'val_evaluator.reported_k': 20 if 20 in ks else ks[-1]}


def demo_pretrain_options(data_root: str, train_images: int,
                          epochs: int) -> dict:
    """The demo's ``--cfg-options`` for every pre-training: the dataset,
    k-NN of the encoder 5 times, the schedule fitted to ``epochs``, one
    checkpoint at the end and every iteration logged.

    Args:
        data_root (str): The embedded dataset.
        train_images (int): Its training images (the k-NN bank).
        epochs (int): Pre-training epochs (10 % warm-up).
    """
    return {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'val_cfg.bank_dataloader.dataset.data_root': data_root,
        'val_cfg.interval': max(1, epochs // 5),
        **knn_options(train_images),
        **schedule_options(epochs, max(1, epochs // 10)),
        'default_hooks.checkpoint.interval': epochs,
        # Log every iteration, so the loss curves hold every step.
        'default_hooks.logger.interval': 1,
    }


def demo_probe_options(data_root: str, epochs: int) -> dict:
    """The demo's ``--cfg-options`` for every linear probe: the dataset,
    one validation and one checkpoint at the end, 1 warm-up epoch."""
    return {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_cfg.val_interval': epochs,
        'default_hooks.checkpoint.interval': epochs,
        **schedule_options(epochs, 1),
    }


def run_demo(work_dir: str = 'work_dirs/demo',
             methods: Optional[Sequence[str]] = None,
             pretrain_epochs: int = 100,
             probe_epochs: int = 30,
             train_per_class: int = 24,
             val_per_class: int = 8,
             seed: int = 0,
             log: Callable[[str], None] = print) -> List[dict]:
    """Build the embedded dataset, pre-train and probe, write the results.

    Writes ``results.json``, ``results.md`` and ``comparison.png`` (loss
    and k-NN curves, keypoint weight maps) to ``work_dir``.

    Args:
        work_dir (str): Output folder; the dataset goes to
            ``work_dir/data/photos``.
        methods (Sequence[str], optional): Keys of :data:`DEMO_RUNS`; all of
            them by default.
        pretrain_epochs (int): Pre-training epochs (10 % warm-up), >= 2.
        probe_epochs (int): Linear-probe epochs (1 warm-up), >= 2.
        train_per_class (int): Training images per class.
        val_per_class (int): Validation images per class.
        seed (int): Seed of the dataset and of every run.
        log (callable): Progress printer.

    Returns:
        list[dict]: One result per method (see
        :func:`mmkamim.analysis.pretrain_and_probe`).
    """
    methods = list(methods or DEMO_RUNS)
    unknown = [m for m in methods if m not in DEMO_RUNS]
    if unknown:
        raise ValueError(f'unknown demo methods {unknown}; choose from '
                         f'{list(DEMO_RUNS)}')
    if pretrain_epochs < 2 or probe_epochs < 2:
        raise ValueError(
            f'each stage needs >= 2 epochs (warm-up, then cosine), got '
            f'pretrain_epochs={pretrain_epochs}, probe_epochs={probe_epochs}')
    os.makedirs(work_dir, exist_ok=True)
    data_root = osp.join(work_dir, 'data', 'photos')
    written = make_photo_dataset(
        data_root, train_per_class, val_per_class, seed=seed)
    log(f'dataset: {written["train"]} training / {written["val"]} validation '
        f'images of {len(PHOTO_NAMES)} photos in {data_root}')

    pretrain_options = demo_pretrain_options(data_root, written['train'],
                                             pretrain_epochs)
    probe_options = demo_probe_options(data_root, probe_epochs)
    runs = [
        dict(name=m, config=demo_config(DEMO_RUNS[m]))
        for m in methods
    ]
    example_files = [
        osp.join(data_root, 'val', name, '000.png') for name in EXAMPLE_PHOTOS
    ]
    examples = keypoint_examples(example_files)
    results = compare(
        runs,
        demo_config(DEMO_PROBE),
        work_dir,
        pretrain_options=pretrain_options,
        probe_options=probe_options,
        seeds=(seed, ),
        examples=examples,
        title=f'Embedded demo: {len(PHOTO_NAMES)} photo classes, '
        f'{pretrain_epochs} pre-training + {probe_epochs} probe epochs',
        log=log)
    figures = demo_figures(results, example_files, work_dir, seed)
    log('\n' + markdown_table(results))
    log(f'\nresults: {osp.join(work_dir, "results.json")}, figures: '
        f'{osp.join(work_dir, "comparison.png")}, ' + ', '.join(figures))
    return results


def demo_figures(results: Sequence[dict], images: Sequence[str],
                 work_dir: str, seed: int) -> List[str]:
    """The keypoint weights through the KAMIM pipeline, and every
    method's reconstructions of ``images``.

    Returns:
        list[str]: The figures written.
    """
    from mmengine.config import Config

    from ..visualization import draw_keypoint_weights, draw_reconstructions
    from .pipeline_trace import keypoint_view, trace_pipeline
    from .reconstruction import build_model, image_size, load_square
    from .reconstruction import reconstruct as run_reconstruction
    written = []
    kamim = Config.fromfile(demo_config(DEMO_RUNS['KAMIM']))
    for i, path in enumerate(images):
        trace = trace_pipeline(kamim, path, seed, i)
        out_file = osp.join(work_dir, f'keypoint_weights_{i}.png')
        draw_keypoint_weights(trace['stages'], keypoint_view(kamim, trace),
                              path, out_file)
        written.append(out_file)
    columns = {}
    for result in results:
        config = demo_config(DEMO_RUNS[result['name']])
        model = build_model(config, result['checkpoint'])
        size = image_size(model)
        columns[result['name']] = [
            run_reconstruction(model, load_square(path, size), seed)
            for path in images
        ]
    out_file = osp.join(work_dir, 'reconstructions.png')
    draw_reconstructions(columns, [osp.basename(osp.dirname(p))
                                   for p in images], out_file)
    written.append(out_file)
    return written
