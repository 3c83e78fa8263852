"""Pre-train several MIM configs and linear-probe each on the same footing.

Every stage runs as its own ``tools/train.py`` process (``tools/dist_train.sh``
with ``nproc > 1``), so runs share no state, and the results are read back
from mmengine's logs (``<work_dir>/<timestamp>/vis_data/scalars.json``).
"""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.runner import find_latest_checkpoint

from ..utils import project_dir

_PROGRESS = re.compile(r'(Epoch|Iter)\((train|val)\)')


def _options(options: Dict) -> List[str]:
    """``--cfg-options`` arguments for a dict of overrides."""
    if not options:
        return []
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def run_stage(config: str,
              work_dir: str,
              options: Optional[Dict] = None,
              nproc: int = 1,
              log: Callable[[str], None] = print,
              every: float = 10.0) -> float:
    """Train one config in a child process; return its wall time (s).

    The child's output goes to ``<work_dir>.log``; a progress line is
    echoed at most every ``every`` seconds, and validation lines always.

    Args:
        config (str): Config file.
        work_dir (str): The run's work dir.
        options (dict, optional): ``--cfg-options`` overrides.
        nproc (int): Processes (GPUs, or CPU processes over gloo).
        log (callable): Progress printer.
        every (float): Seconds between echoed progress lines.

    Returns:
        float: Wall time in seconds.
    """
    if nproc > 1:
        tools = project_dir('tools')
        command = ['bash', osp.join(tools, 'dist_train.sh'), config,
                   str(nproc)]
    else:
        command = [sys.executable, osp.join(project_dir('tools'), 'train.py'),
                   config]
    command += ['--work-dir', work_dir] + _options(options or {})
    os.makedirs(osp.dirname(work_dir) or '.', exist_ok=True)
    env = dict(os.environ, PYTHON=sys.executable)
    start = last = time.perf_counter()
    tail: List[str] = []
    with open(work_dir + '.log', 'w') as log_file:
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env)
        for line in child.stdout:
            log_file.write(line)
            tail = (tail + [line.rstrip()])[-40:]
            if _PROGRESS.search(line):
                now = time.perf_counter()
                if '(val)' in line or now - last >= every:
                    log('    ' + line.split(' - ')[-1].strip()[:150])
                    last = now
        status = child.wait()
    if status != 0:
        raise RuntimeError(
            f'{" ".join(command)} failed with exit status {status}; last '
            'lines of its output:\n' + '\n'.join(tail))
    return time.perf_counter() - start


def read_scalars(work_dir: str) -> List[dict]:
    """The scalar records of a run's newest log (one dict per logged step)."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    with open(runs[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def pretrain_and_probe(name: str,
                       pretrain_config: str,
                       probe_config: str,
                       work_dir: str,
                       pretrain_options: Optional[dict] = None,
                       probe_options: Optional[dict] = None,
                       seed: int = 0,
                       nproc: int = 1,
                       log: Callable[[str], None] = print) -> dict:
    """Pre-train one config, then linear-probe its backbone.

    Args:
        name (str): Label of the run, e.g. ``'KAMIM'``.
        pretrain_config (str): Pre-training config file.
        probe_config (str): Linear-probe config file whose backbone takes
            ``model.backbone.init_cfg.checkpoint``.
        work_dir (str): Folder of this run (``pretrain/`` and ``probe/``).
        pretrain_options (dict, optional): ``--cfg-options`` for the
            pre-training.
        probe_options (dict, optional): ``--cfg-options`` for the probe.
        seed (int): Random seed of both stages. Defaults to 0.
        nproc (int): Processes per stage. Defaults to 1.
        log (callable): Progress printer. Defaults to ``print``.

    Returns:
        dict: ``name``, ``pretrain_config``, ``loss`` and ``loss_epoch``
        (the logged pre-training losses and their epochs), ``final_loss``
        (mean logged loss of the last epoch), ``top1`` and ``top5`` (probe
        accuracy, %), ``pretrain_seconds``, ``probe_seconds`` and
        ``checkpoint``.
    """
    seeded = {'randomness.seed': seed}
    pretrain_dir = osp.join(work_dir, 'pretrain')
    log(f'[{name}] pre-training {osp.basename(pretrain_config)} '
        f'(log: {pretrain_dir}.log)')
    pretrain_seconds = run_stage(pretrain_config, pretrain_dir,
                                 {**(pretrain_options or {}), **seeded},
                                 nproc, log)
    records = [r for r in read_scalars(pretrain_dir) if 'loss' in r]
    checkpoint = find_latest_checkpoint(pretrain_dir)
    if not records or checkpoint is None:
        raise RuntimeError(f'{name}: pre-training in {pretrain_dir} logged no '
                           'loss or saved no checkpoint')
    last_epoch = max(r.get('epoch', 0) for r in records)
    final = [r['loss'] for r in records if r.get('epoch', 0) == last_epoch]

    probe_dir = osp.join(work_dir, 'probe')
    log(f'[{name}] linear probe {osp.basename(probe_config)} '
        f'(log: {probe_dir}.log)')
    probe_seconds = run_stage(
        probe_config, probe_dir, {
            **(probe_options or {}),
            **seeded, 'model.backbone.init_cfg.checkpoint': checkpoint
        }, nproc, log)
    metrics = [r for r in read_scalars(probe_dir) if 'accuracy/top1' in r]
    if not metrics:
        raise RuntimeError(f'{name}: the probe in {probe_dir} logged no '
                           'validation accuracy')
    result = dict(
        name=name,
        pretrain_config=pretrain_config,
        loss=[r['loss'] for r in records],
        loss_epoch=[r.get('epoch', 0) for r in records],
        final_loss=sum(final) / len(final),
        top1=float(metrics[-1]['accuracy/top1']),
        top5=float(metrics[-1].get('accuracy/top5', float('nan'))),
        pretrain_seconds=pretrain_seconds,
        probe_seconds=probe_seconds,
        checkpoint=checkpoint)
    log(f'[{name}] probe top-1 {result["top1"]:.2f} %; pre-training '
        f'{pretrain_seconds:.0f} s, probe {probe_seconds:.0f} s')
    return result


def markdown_table(results: Sequence[dict]) -> str:
    """One row per run: final pre-training loss, probe accuracy, times."""
    lines = [
        '| method | pre-training loss (last epoch) | probe top-1 (%) '
        '| probe top-5 (%) | pre-training time (s) | probe time (s) |',
        '|---|---:|---:|---:|---:|---:|',
    ]
    for r in results:
        lines.append(
            f'| {r["name"]} | {r["final_loss"]:.4f} | {r["top1"]:.2f} '
            f'| {r["top5"]:.2f} | {r["pretrain_seconds"]:.0f} '
            f'| {r["probe_seconds"]:.0f} |')
    return '\n'.join(lines)


def compare(runs: Sequence[Dict[str, str]],
            probe_config: str,
            work_dir: str,
            pretrain_options: Optional[dict] = None,
            probe_options: Optional[dict] = None,
            seed: int = 0,
            nproc: int = 1,
            examples: Sequence[dict] = (),
            title: str = 'Pre-training comparison',
            log: Callable[[str], None] = print) -> List[dict]:
    """Pre-train and probe every run with the same data, seed and overrides.

    Writes ``results.json``, ``results.md`` and ``comparison.png`` (loss
    curves, and keypoint weight maps of ``examples``) to ``work_dir``.

    Args:
        runs (Sequence[dict]): Each ``dict(name=..., config=...)``.
        probe_config (str): The linear-probe config shared by all runs.
        work_dir (str): Output folder; each run works in
            ``work_dir/<name>``.
        pretrain_options (dict, optional): ``--cfg-options`` for every
            pre-training (data, schedule, ...).
        probe_options (dict, optional): ``--cfg-options`` for every probe.
        seed (int): Random seed of every stage.
        nproc (int): Processes per stage.
        examples (Sequence[dict]): Images with keypoint maps and weights
            for the figure (see :func:`keypoint_examples`).
        title (str): Figure title.
        log (callable): Progress printer.

    Returns:
        list[dict]: One :func:`pretrain_and_probe` result per run.
    """
    from ..visualization import draw_comparison
    names = [run['name'] for run in runs]
    if len(set(names)) != len(names):
        raise ValueError(f'run names must be unique, got {names}')
    os.makedirs(work_dir, exist_ok=True)
    results = []
    for i, run in enumerate(runs, 1):
        log(f'=== run {i}/{len(runs)}: {run["name"]} ===')
        results.append(
            pretrain_and_probe(run['name'], run['config'], probe_config,
                               osp.join(work_dir, run['name']),
                               pretrain_options, probe_options, seed, nproc,
                               log))
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(
                seed=seed,
                probe_config=probe_config,
                pretrain_options=pretrain_options or {},
                probe_options=probe_options or {},
                runs=results),
            f,
            indent=2)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(markdown_table(results) + '\n')
    draw_comparison(
        results,
        examples,
        out_file=osp.join(work_dir, 'comparison.png'),
        title=title)
    return results


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
                title=f'{osp.basename(path)} ({size} px)'))
    return examples
