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
from ..utils.checkpoint_files import latest_checkpoint, write_text_atomically
from ..utils.errors import UsageError

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
_STARTED = 'stage_started.json'


def run_stage_once(config: str,
                   work_dir: str,
                   options: Dict,
                   nproc: int = 1,
                   log: Callable[[str], None] = print) -> float:
    """Run a stage unless it already finished with the same settings.

    A stage writes its settings (config and options) to
    ``<work_dir>/stage_started.json`` before it starts, and its wall time to
    ``<work_dir>/stage_done.json`` when it finishes; rerunning the comparison
    skips a finished stage and resumes an interrupted one from its last
    checkpoint. A stage begun or finished with other settings is refused, so
    a work dir never mixes two experiments.

    Returns:
        float: The stage's wall time in seconds (when it ran, if skipped).

    Raises:
        UsageError: The work dir holds the stage with other settings.
    """
    settings = dict(config=osp.abspath(config),
                    options={k: str(v) for k, v in options.items()})
    for name, state in ((_DONE, 'a finished'), (_STARTED, 'an interrupted')):
        before = _read_json(osp.join(work_dir, name))
        if before is not None and before['settings'] != settings:
            raise UsageError(
                f'{work_dir} holds {state} stage with other settings: '
                + settings_differences(before['settings'], settings)
                + '. Use another --work-dir, or remove it')
    done = _read_json(osp.join(work_dir, _DONE))
    if done is not None:
        log(f'    finished before ({done["seconds"]:.0f} s): skipped')
        return done['seconds']
    resume = latest_checkpoint(work_dir) is not None
    if resume:
        log('    interrupted before: resuming from its last checkpoint')
    os.makedirs(work_dir, exist_ok=True)
    write_text_atomically(osp.join(work_dir, _STARTED),
                          json.dumps(dict(settings=settings), indent=2))
    seconds = run_stage(config, work_dir, options, nproc, log, resume=resume)
    write_text_atomically(
        osp.join(work_dir, _DONE),
        json.dumps(dict(settings=settings, seconds=seconds), indent=2))
    return seconds


def _read_json(path: str) -> Optional[dict]:
    """A JSON file's content, or None if there is no such file."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def settings_differences(before: dict, now: dict) -> str:
    """The keys of two settings dicts whose values differ, with both."""
    differ = sorted(k for k in set(before) | set(now)
                    if before.get(k) != now.get(k))
    return '; '.join(f'{k}: {before.get(k)!r} there, {now.get(k)!r} now'
                     for k in differ)
