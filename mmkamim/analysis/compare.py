"""Pre-train several MIM configs and linear-probe each on the same footing.

Each stage runs in its own process (:mod:`.stages`); the results are read
back from mmengine's logs (:mod:`.logs`), summarised over seeds
(:mod:`.summary`) and reported (:mod:`.report`).
"""
import json
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Sequence

from ..utils.checkpoint_files import (
    checkpoint_meta,
    latest_checkpoint,
    write_text_atomically,
)
from ..utils.errors import UsageError
from .logs import read_scalars
from .report import markdown_table
from .stages import run_stage_once, settings_differences
from .summary import summarise


def pretrain_and_probe(name: str,
                       pretrain_config: Optional[str],
                       probe_config: str,
                       work_dir: str,
                       pretrain_options: Optional[dict] = None,
                       probe_options: Optional[dict] = None,
                       seed: int = 0,
                       nproc: int = 1,
                       log: Callable[[str], None] = print,
                       checkpoint: Optional[str] = None) -> dict:
    """Pre-train one config (or take a checkpoint), then linear-probe it.

    Args:
        name (str): Label of the run, e.g. ``'KAMIM'``.
        pretrain_config (str, optional): Pre-training config file; None
            with ``checkpoint``.
        probe_config (str): Linear-probe config file whose backbone takes
            ``model.backbone.init_cfg.checkpoint``.
        work_dir (str): Folder of this run (``pretrain/`` and ``probe/``).
        pretrain_options (dict, optional): ``--cfg-options`` for the
            pre-training.
        probe_options (dict, optional): ``--cfg-options`` for the probe.
        seed (int): Random seed of both stages. Defaults to 0.
        nproc (int): Processes per stage. Defaults to 1.
        log (callable): Progress printer. Defaults to ``print``.
        checkpoint (str, optional): Probe this pre-trained checkpoint (e.g.
            one converted from the authors' release) instead of
            pre-training; the probe takes the LayerNorm epsilon the
            checkpoint names (``meta['hf_layer_norm_eps']``) unless
            ``probe_options`` sets one.

    Returns:
        dict: ``name``, ``seed``, ``pretrain_config``, ``loss`` and
        ``loss_epoch`` (the logged pre-training losses and their epochs),
        ``final_loss`` (mean logged loss of the last epoch),
        ``knn_curve`` and ``knn_epoch`` (the k-NN top-1 accuracies, %, a
        pre-training config with a ``KNNValLoop`` logged, and their epochs),
        ``knn_top1`` (the last of them), ``top1`` and ``top5`` (probe
        accuracy, %), ``pretrain_seconds``, ``probe_seconds`` and
        ``checkpoint``; the pre-training entries are empty or NaN for a
        given checkpoint, the k-NN ones for a config without k-NN.
    """
    if (pretrain_config is None) == (checkpoint is None):
        raise ValueError(f'{name}: give a pre-training config or a '
                         'checkpoint, not both or neither')
    seeded = {'randomness.seed': seed}
    if checkpoint is None:
        pretrained = pretrain(name, pretrain_config, work_dir,
                              {**(pretrain_options or {}), **seeded}, nproc,
                              log)
    else:
        pretrained = dict(loss=[], loss_epoch=[], final_loss=float('nan'),
                          knn_curve=[], knn_epoch=[],
                          pretrain_seconds=float('nan'),
                          checkpoint=checkpoint)
    probed = probe(name, probe_config, work_dir, pretrained['checkpoint'],
                   {**(probe_options or {}), **seeded}, nproc, log)
    knn = pretrained['knn_curve']
    return dict(name=name, seed=seed, pretrain_config=pretrain_config,
                **pretrained, knn_top1=knn[-1] if knn else float('nan'),
                **probed)


def pretrain(name: str, config: str, work_dir: str, options: dict,
             nproc: int, log: Callable[[str], None]) -> dict:
    """Pre-train once in ``work_dir/pretrain`` and read its log.

    Returns:
        dict: ``loss``, ``loss_epoch``, ``final_loss``, ``knn_curve``,
        ``knn_epoch``, ``pretrain_seconds`` and ``checkpoint`` (the last),
        as :func:`pretrain_and_probe` describes them.
    """
    pretrain_dir = osp.join(work_dir, 'pretrain')
    log(f'[{name}] pre-training {osp.basename(config)} '
        f'(log: {pretrain_dir}.log)')
    seconds = run_stage_once(config, pretrain_dir, options, nproc, log)
    scalars = read_scalars(pretrain_dir)
    records = [r for r in scalars if 'loss' in r]
    # Logged by a KNNValLoop (the demo configs have one), at its epoch.
    knn = [r for r in scalars if 'knn/top1' in r]
    checkpoint = latest_checkpoint(pretrain_dir)
    if not records or checkpoint is None:
        raise RuntimeError(f'{name}: pre-training in {pretrain_dir} '
                           'logged no loss or saved no checkpoint')
    last_epoch = max(r.get('epoch', 0) for r in records)
    final = [r['loss'] for r in records if r.get('epoch', 0) == last_epoch]
    return dict(loss=[r['loss'] for r in records],
                loss_epoch=[r.get('epoch', 0) for r in records],
                final_loss=sum(final) / len(final),
                knn_curve=[float(r['knn/top1']) for r in knn],
                knn_epoch=[r['step'] for r in knn],
                pretrain_seconds=seconds, checkpoint=checkpoint)


def probe(name: str, config: str, work_dir: str, checkpoint: str,
          options: dict, nproc: int, log: Callable[[str], None]) -> dict:
    """Linear-probe ``checkpoint`` once in ``work_dir/probe``.

    A converted checkpoint's LayerNorm epsilon (``meta['hf_layer_norm_eps']``)
    is the probe's unless ``options`` sets one.

    Returns:
        dict: ``top1``, ``top5`` (%, the last validation) and
        ``probe_seconds``.
    """
    options = dict(options)
    # A converted checkpoint says which LayerNorm epsilon its weights were
    # trained with (Hugging Face's), as the other tools read it.
    eps = checkpoint_meta(checkpoint).get('hf_layer_norm_eps')
    if eps is not None:
        options.setdefault('model.backbone.norm_cfg.eps', eps)
    probe_dir = osp.join(work_dir, 'probe')
    log(f'[{name}] linear probe {osp.basename(config)} '
        f'(log: {probe_dir}.log)')
    seconds = run_stage_once(
        config, probe_dir,
        {**options, 'model.backbone.init_cfg.checkpoint': checkpoint},
        nproc, log)
    metrics = [r for r in read_scalars(probe_dir) if 'accuracy/top1' in r]
    if not metrics:
        raise RuntimeError(f'{name}: the probe in {probe_dir} logged no '
                           'validation accuracy')
    top1 = float(metrics[-1]['accuracy/top1'])
    log(f'[{name}] probe top-1 {top1:.2f} %; probe {seconds:.0f} s')
    return dict(top1=top1,
                top5=float(metrics[-1].get('accuracy/top5', float('nan'))),
                probe_seconds=seconds)


def sweep_runs(runs: Sequence[dict], key: str,
               values: Sequence) -> List[dict]:
    """Every run once per value of one ``--cfg-options`` key, named
    ``<name>-<key's last part>=<value>``."""
    label = key.rsplit('.', 1)[-1]
    return [
        dict(run, name=f'{run["name"]}-{label}={value}',
             options={**run.get('options', {}), key: value})
        for run in runs for value in values
    ]


def check_same_settings(work_dir: str, settings: dict) -> None:
    """Refuse to run other settings in a work dir that holds a comparison,
    finished or not.

    A comparison writes its settings to ``comparison.json`` before its first
    stage; rerunning the same comparison skips or resumes its stages, a
    different one would overwrite ``results.json`` and mix stages.

    Raises:
        UsageError: Naming the settings that differ.
    """
    paths = [osp.join(work_dir, name)
             for name in ('comparison.json', 'results.json')]
    path = next((p for p in paths if osp.isfile(p)), None)
    if path is None:
        return
    with open(path) as f:
        before = json.load(f).get('settings')
    now = json.loads(json.dumps(settings))  # as JSON stores it
    if before is None:
        raise UsageError(f'{path} was written by an older version; use '
                         'another --work-dir')
    if before != now:
        raise UsageError(
            f'{work_dir} holds a comparison with other settings: '
            + settings_differences(before, now)
            + '. Use another --work-dir, or remove it')


def compare(runs: Sequence[Dict],
            probe_config: str,
            work_dir: str,
            pretrain_options: Optional[dict] = None,
            probe_options: Optional[dict] = None,
            seeds: Sequence[int] = (0, ),
            nproc: int = 1,
            examples: Sequence[dict] = (),
            title: str = 'Pre-training comparison',
            log: Callable[[str], None] = print) -> List[dict]:
    """Pre-train and probe every run on the same footing.

    Every run uses the same data, seeds, shared overrides and probe. Stages
    that finished in an earlier call with the same settings are skipped,
    interrupted ones resume (see :func:`run_stage_once`). Writes
    ``results.json``, ``results.md`` and ``comparison.png`` (loss curves,
    and keypoint weight maps of ``examples``) to ``work_dir``.

    Args:
        runs (Sequence[dict]): Each ``dict(name=..., config=...)`` to
            pre-train, or ``dict(name=..., checkpoint=...)`` to probe a
            pre-trained checkpoint only; optional ``options`` and
            ``probe_options``, this run's own ``--cfg-options`` (on top of
            the shared ones).
        probe_config (str): The linear-probe config shared by all runs.
        work_dir (str): Output folder; run ``name`` with seed ``s`` works
            in ``work_dir/<name>/seed<s>``.
        pretrain_options (dict, optional): ``--cfg-options`` for every
            pre-training (data, schedule, ...).
        probe_options (dict, optional): ``--cfg-options`` for every probe.
        seeds (Sequence[int]): Seeds; every run is trained once per seed
            and the table shows mean and standard deviation.
        nproc (int): Processes per stage.
        examples (Sequence[dict]): Images with keypoint maps and weights
            for the figure (see :func:`keypoint_examples`).
        title (str): Figure title.
        log (callable): Progress printer.

    Returns:
        list[dict]: One :func:`summarise` result per run.
    """
    from ..visualization import draw_comparison
    names = [run['name'] for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f'run names must be unique, got {names}')
    # A name becomes a folder that --cfg-options carries: no blanks, no
    # commas (which would split the path).
    bad = [name for name in names if re.search(r'[\s,]', name)]
    if bad:
        raise ValueError(f'run names must not hold blanks or commas: {bad}')
    if not seeds:
        raise ValueError('give at least one seed')
    settings = dict(seeds=list(seeds), probe_config=probe_config,
                    pretrain_options=pretrain_options or {},
                    probe_options=probe_options or {}, runs=list(runs))
    check_same_settings(work_dir, settings)
    os.makedirs(work_dir, exist_ok=True)
    write_text_atomically(osp.join(work_dir, 'comparison.json'),
                          json.dumps(dict(settings=settings), indent=2))
    results = []
    for i, run in enumerate(runs, 1):
        log(f'=== run {i}/{len(runs)}: {run["name"]} ===')
        per_seed = [
            pretrain_and_probe(
                run['name'],
                run.get('config'),
                probe_config,
                osp.join(work_dir, run['name'], f'seed{seed}'),
                {**(pretrain_options or {}), **run.get('options', {})},
                {**(probe_options or {}), **run.get('probe_options', {})},
                seed,
                nproc,
                log,
                checkpoint=run.get('checkpoint')) for seed in seeds
        ]
        results.append(summarise(run['name'], per_seed))
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(dict(settings=settings, runs=results), f, indent=2)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(markdown_table(results) + '\n')
    draw_comparison(
        [r for r in results if r['loss']] or results,
        examples,
        out_file=osp.join(work_dir, 'comparison.png'),
        title=title)
    return results


def example_name(path: str) -> str:
    """An image file's name with its folder: an ImageFolder's files are
    numbered within their class (``astronaut/000.png``)."""
    return osp.join(osp.basename(osp.dirname(path)), osp.basename(path))


def keypoint_examples(images: Sequence[str],
                      size: int = 192,
                      **density_kwargs) -> List[dict]:
    """Keypoint maps and weights of image files, for the comparison figure.

    Args:
        images (Sequence[str]): Image files.
        size (int): Side the images are resized to, in pixels.
        **density_kwargs: ``KeypointDensity`` arguments (KAMIM's defaults:
            FAST, w_ps 8, T 0.25).

    Returns:
        list[dict]: ``img`` (BGR), ``keypoint_map``, ``kp_weight`` and
        ``title`` of every image.
    """
    import cv2

    from ..datasets.transforms import KeypointDensity
    density = KeypointDensity(**density_kwargs)
    examples = []
    for path in images:
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f'cannot read image {path}')
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        examples.append(
            dict(
                img=img,
                keypoint_map=density.keypoint_map(img),
                kp_weight=density(dict(img=img))['kp_weight'],
                title=f'{example_name(path)} ({size} px)'))
    return examples
