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
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from ..utils import project_dir
from ..utils.checkpoint_files import latest_checkpoint

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
              every: float = 10.0,
              resume: bool = False) -> float:
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
        resume (bool): Resume from the work dir's last checkpoint.

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
    command += ['--work-dir', work_dir] + (['--resume'] if resume else [])
    command += _options(options or {})
    os.makedirs(osp.dirname(work_dir) or '.', exist_ok=True)
    env = dict(os.environ, PYTHON=sys.executable)
    start = last = time.perf_counter()
    tail: List[str] = []
    with open(work_dir + '.log', 'a' if resume else 'w') as log_file:
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
    """The scalar records a stage logged, one dict per logged step.

    A resumed stage has one log per start: they are read oldest first, and
    a step logged again after a resume replaces the earlier record.
    """
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    records: Dict = {}
    for path in logs:
        with open(path) as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    key = (record.get('step'), 'loss' in record,
                           'accuracy/top1' in record)
                    records.pop(key, None)
                    records[key] = record
    return list(records.values())


_DONE = 'stage_done.json'


def run_stage_once(config: str,
                   work_dir: str,
                   options: Dict,
                   nproc: int = 1,
                   log: Callable[[str], None] = print) -> float:
    """Run a stage unless it already finished with the same settings.

    A finished stage leaves ``<work_dir>/stage_done.json`` (its config,
    options and wall time); rerunning the comparison skips it. A stage that
    was interrupted (checkpoints but no record) resumes from its last
    checkpoint. A finished stage with other settings is an error, so a
    work dir never mixes two experiments.

    Returns:
        float: The stage's wall time in seconds (when it ran, if skipped).
    """
    record = osp.join(work_dir, _DONE)
    settings = dict(config=osp.abspath(config),
                    options={k: str(v) for k, v in options.items()})
    if osp.isfile(record):
        with open(record) as f:
            done = json.load(f)
        if done['settings'] != settings:
            raise ValueError(
                f'{work_dir} holds a finished stage with other settings '
                f'({done["settings"]}); use another --work-dir or remove it')
        log(f'    finished before ({done["seconds"]:.0f} s): skipped')
        return done['seconds']
    resume = latest_checkpoint(work_dir) is not None
    if resume:
        log('    interrupted before: resuming from its last checkpoint')
    seconds = run_stage(config, work_dir, options, nproc, log, resume=resume)
    with open(record, 'w') as f:
        json.dump(dict(settings=settings, seconds=seconds), f, indent=2)
    return seconds


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
            pre-training.

    Returns:
        dict: ``name``, ``seed``, ``pretrain_config``, ``loss`` and
        ``loss_epoch`` (the logged pre-training losses and their epochs),
        ``final_loss`` (mean logged loss of the last epoch), ``top1`` and
        ``top5`` (probe accuracy, %), ``pretrain_seconds``,
        ``probe_seconds`` and ``checkpoint``; the pre-training entries are
        empty or NaN for a given checkpoint.
    """
    if (pretrain_config is None) == (checkpoint is None):
        raise ValueError(f'{name}: give a pre-training config or a '
                         'checkpoint, not both or neither')
    seeded = {'randomness.seed': seed}
    loss, loss_epoch, final_loss, pretrain_seconds = [], [], float('nan'), 0.0
    if checkpoint is None:
        pretrain_dir = osp.join(work_dir, 'pretrain')
        log(f'[{name}] pre-training {osp.basename(pretrain_config)} '
            f'(log: {pretrain_dir}.log)')
        pretrain_seconds = run_stage_once(
            pretrain_config, pretrain_dir, {
                **(pretrain_options or {}),
                **seeded
            }, nproc, log)
        records = [r for r in read_scalars(pretrain_dir) if 'loss' in r]
        checkpoint = latest_checkpoint(pretrain_dir)
        if not records or checkpoint is None:
            raise RuntimeError(f'{name}: pre-training in {pretrain_dir} '
                               'logged no loss or saved no checkpoint')
        last_epoch = max(r.get('epoch', 0) for r in records)
        final = [r['loss'] for r in records if r.get('epoch', 0) == last_epoch]
        loss = [r['loss'] for r in records]
        loss_epoch = [r.get('epoch', 0) for r in records]
        final_loss = sum(final) / len(final)

    probe_dir = osp.join(work_dir, 'probe')
    log(f'[{name}] linear probe {osp.basename(probe_config)} '
        f'(log: {probe_dir}.log)')
    probe_seconds = run_stage_once(
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
        seed=seed,
        pretrain_config=pretrain_config,
        loss=loss,
        loss_epoch=loss_epoch,
        final_loss=final_loss,
        top1=float(metrics[-1]['accuracy/top1']),
        top5=float(metrics[-1].get('accuracy/top5', float('nan'))),
        pretrain_seconds=pretrain_seconds,
        probe_seconds=probe_seconds,
        checkpoint=checkpoint)
    log(f'[{name}] probe top-1 {result["top1"]:.2f} %; pre-training '
        f'{pretrain_seconds:.0f} s, probe {probe_seconds:.0f} s')
    return result


_SUMMARISED = ('final_loss', 'top1', 'top5', 'pretrain_seconds',
               'probe_seconds')


def summarise(name: str, per_seed: Sequence[dict]) -> dict:
    """One run over several seeds: the first seed's curve, and the mean
    and (sample) standard deviation of every figure."""
    summary = dict(per_seed[0], name=name, seeds=[r['seed'] for r in per_seed],
                   per_seed=list(per_seed))
    for key in _SUMMARISED:
        values = [r[key] for r in per_seed]
        summary[key] = statistics.fmean(values)
        summary[f'{key}_std'] = (statistics.stdev(values)
                                 if len(values) > 1 else 0.0)
    return summary


def _cell(result: dict, key: str, digits: int) -> str:
    value = result[key]
    if value != value:  # NaN: no pre-training
        return '-'
    if len(result.get('seeds', [0])) > 1:
        return f'{value:.{digits}f} ± {result[key + "_std"]:.{digits}f}'
    return f'{value:.{digits}f}'


def markdown_table(results: Sequence[dict]) -> str:
    """One row per run: final pre-training loss, probe accuracy, times
    (mean ± standard deviation over the seeds when there are several)."""
    seeds = max(len(r.get('seeds', [0])) for r in results)
    note = f' (mean ± sd over {seeds} seeds)' if seeds > 1 else ''
    lines = [
        f'| method{note} | pre-training loss (last epoch) | probe top-1 (%) '
        '| probe top-5 (%) | pre-training time (s) | probe time (s) |',
        '|---|---:|---:|---:|---:|---:|',
    ]
    for r in results:
        lines.append(
            f'| {r["name"]} | {_cell(r, "final_loss", 4)} '
            f'| {_cell(r, "top1", 2)} | {_cell(r, "top5", 2)} '
            f'| {_cell(r, "pretrain_seconds", 0)} '
            f'| {_cell(r, "probe_seconds", 0)} |')
    return '\n'.join(lines)


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
    os.makedirs(work_dir, exist_ok=True)
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
        json.dump(
            dict(
                seeds=list(seeds),
                probe_config=probe_config,
                pretrain_options=pretrain_options or {},
                probe_options=probe_options or {},
                runs=results),
            f,
            indent=2)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(markdown_table(results) + '\n')
    draw_comparison(
        [r for r in results if r['loss']] or results,
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
