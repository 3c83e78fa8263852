"""Run one training stage as its own process, once.

Every stage runs as its own ``tools/train.py`` process (``tools/dist_train.sh``
with ``nproc > 1``), so stages share no state.
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

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
