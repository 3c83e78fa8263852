"""A stop signal reaches every trainer through our launch scripts, whether
it hits the script alone (``docker stop``, Slurm's ``--signal=B:...``) or
its whole process group (Ctrl-C): the trainers save, every process exits,
the script exits with 128 + the signal, and ``--resume`` ends where the
uninterrupted run ends.

``tools/dist_train.sh`` runs with the installed torchrun (which has
``--signals-to-handle``) and with a stand-in for an older one (which has
not); ``tools/slurm_train.sh`` with a stand-in ``srun`` that starts the
tasks and passes signals as Slurm's does.
"""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from conftest import (
    REPO_ROOT,
    tiny_demo_config,
    tiny_vit_config,
    wait_for_file,
)
from test_preemption_hook import (
    EPOCHS,
    free_port,
    parameters,
    relative_difference,
    stopping_config,
)

STOP = 3  # 2 iterations per epoch on 2 processes: the 1st of epoch 2

# torchrun as it was before --signals-to-handle and --shutdown-timeout: its
# agent forwards SIGTERM, SIGINT, SIGHUP and SIGQUIT, and SIGUSR1 kills it.
OLD_TORCHRUN = '''
import os, sys
for arg in sys.argv[1:]:
    if arg.startswith(('--signals', '--shutdown')):
        sys.exit(f'torchrun: error: unrecognized arguments: {arg}')
if '--help' in sys.argv[1:]:
    print('usage: torchrun [--nnodes NNODES] [--nproc-per-node NPROC] ...')
    sys.exit(0)
for name in ('PET_SIGNALS_TO_HANDLE', 'PET_SHUTDOWN_TIMEOUT'):
    os.environ.pop(name, None)
from torch.distributed.run import main
main()
'''

# srun as Slurm's behaves for what our script uses: one task per --ntasks,
# each in its own session with Slurm's variables; SIGTERM and SIGUSR1 are
# forwarded to every task; a first SIGINT only reports the tasks' state;
# with --kill-on-bad-exit=1 a task that fails ends the others (SIGTERM,
# then SIGKILL after KillWait, 30 s); the exit status is the highest of
# the tasks' (128 + signal for a task a signal ended).
STAND_IN_SRUN = '''#!PYTHON
import os, signal, subprocess, sys, time
args = sys.argv[1:]
ntasks, kill_on_bad_exit = 1, False
while args[0].startswith('-'):
    option = args.pop(0)
    if option == '-p':
        args.pop(0)
    elif option.startswith('--ntasks='):
        ntasks = int(option.split('=')[1])
    elif option == '--kill-on-bad-exit=1':
        kill_on_bad_exit = True
tasks = [subprocess.Popen(args, start_new_session=True, env=dict(
    os.environ, SLURM_PROCID=str(i), SLURM_LOCALID=str(i),
    SLURM_NTASKS=str(ntasks), SLURM_NODELIST='localhost',
    SLURM_JOB_ID='1', SLURM_STEP_ID='0')) for i in range(ntasks)]


def forward(number, frame):
    for task in tasks:
        if task.poll() is None:
            task.send_signal(number)


def report(number, frame):
    running = sum(task.poll() is None for task in tasks)
    print(f'srun: {running} tasks running', file=sys.stderr)


signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGUSR1, forward)
signal.signal(signal.SIGINT, report)
failed_at = None
while any(task.poll() is None for task in tasks):
    if kill_on_bad_exit and failed_at is None and any(
            task.poll() not in (None, 0) for task in tasks):
        failed_at = time.monotonic()
        forward(signal.SIGTERM, None)
    if failed_at is not None and time.monotonic() - failed_at > 30:
        for task in tasks:
            if task.poll() is None:
                task.kill()
    time.sleep(0.05)
codes = [128 - code if code < 0 else code
         for code in (task.returncode for task in tasks)]
sys.exit(max(codes))
'''


def alive(pid: int) -> bool:
    """Whether a process exists and has not exited (a zombie has)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


@pytest.fixture(scope='module')
def straight(tmp_path_factory, image_folder):
    """The uninterrupted run's parameters, two processes."""
    tmp = tmp_path_factory.mktemp('straight2')
    config = tiny_vit_config(tmp, image_folder,
                             'kamim_vit-base_8xb256_in1k.py',
                             EPOCHS.format(workers=0))
    done = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', str(tmp / 'work')],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()),
                 PYTHON=sys.executable))
    assert done.returncode == 0, done.stderr[-3000:]
    return parameters(tmp / 'work' / 'epoch_3.pth')


def children(pid: int):
    """The processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/stat') as f:
                if int(f.read().rsplit(')', 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def default_stop_signals() -> None:
    """SIGINT and SIGQUIT at their defaults, as a terminal starts a command:
    a test run started as a background job of a script inherits them
    ignored, and a shell cannot trap what it was started ignoring."""
    for number in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)


def launched(command, **kwargs) -> subprocess.Popen:
    """Start a launch script in a session of its own, stop signals at
    their defaults."""
    return subprocess.Popen(command, start_new_session=True,
                            preexec_fn=default_stop_signals, **kwargs)


def test_a_launcher_started_ignoring_sigint_says_so(tmp_path):
    script = tmp_path / 'launch.sh'
    script.write_text(
        f'source {REPO_ROOT}/tools/misc/forward_stop_signals.sh\n'
        'forward_stop_signals TERM INT USR1 true\n')

    def ignoring():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)

    done = subprocess.run(['bash', str(script)], capture_output=True,
                          text=True, timeout=60, preexec_fn=ignoring)
    assert done.returncode == 0
    assert done.stderr == (
        'launch.sh: SIGINT was ignored when this script started (a '
        'background job of another script?), so it cannot reach the run; '
        'stop it with SIGTERM or SIGUSR1\n')
    quiet = subprocess.run(['bash', str(script)], capture_output=True,
                           text=True, timeout=60,
                           preexec_fn=default_stop_signals)
    assert quiet.returncode == 0 and quiet.stderr == ''


def stop_and_resume(tmp_path, image_folder, expected, command, env, name,
                    to, trainers_see=None):
    """Start ``command`` (a launch script training 2 processes), send it
    the signal after iteration ``STOP`` (``to`` the script alone, its
    process group, or every process of the run, as Slurm signals a job
    step), check the stop, resume."""
    config, config_env = stopping_config(tmp_path, image_folder, stop=STOP)
    env = dict(config_env, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               **env)
    work = tmp_path / 'work'
    command = command(config, work)
    number = getattr(signal, name)
    log = tmp_path / 'log.txt'
    with open(log, 'w') as out:
        launcher = launched(command, stdout=out, stderr=out, env=env)
        for rank in (0, 1):
            wait_for_file(work / f'reached_{rank}', launcher)
        trainers = [int((work / f'reached_{rank}').read_text())
                    for rank in (0, 1)]
        if to == 'group':
            os.killpg(launcher.pid, number)
        elif to == 'launcher':
            os.kill(launcher.pid, number)
        else:
            for pid in [launcher.pid] + children(launcher.pid) + trainers:
                os.kill(pid, number)
        assert launcher.wait(timeout=600) == 128 + number, \
            log.read_text()[-3000:]
    text = log.read_text()
    # The trainers stopped after the same iteration, and none is left.
    assert f'stopped by {trainers_see or name} after iteration {STOP}; ' \
        'continue with --resume' in text
    assert 'Epoch(train) [2][2/2]' not in text
    assert not any(alive(pid) for pid in trainers)
    assert (work / 'last_checkpoint').read_text() == f'iter_{STOP}.pth'
    env.update(PORT=str(free_port()), MASTER_PORT=str(free_port()))
    done = subprocess.run(command + ['--resume'], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert relative_difference(expected,
                               parameters(work / 'epoch_3.pth')) <= 1e-5


def dist_train(config, work):
    return ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config,
            '2', '--work-dir', str(work)]


@pytest.mark.slow
@pytest.mark.parametrize('name, to', [
    ('SIGUSR1', 'group'), ('SIGTERM', 'launcher'), ('SIGINT', 'launcher'),
    ('SIGUSR1', 'every process')])
def test_dist_train_sh(tmp_path, image_folder, straight, name, to):
    stop_and_resume(tmp_path, image_folder, straight, dist_train,
                    dict(PORT=str(free_port())), name, to)


@pytest.mark.slow
@pytest.mark.parametrize('name, to', [
    ('SIGUSR1', 'launcher'), ('SIGTERM', 'group')])
def test_dist_train_sh_with_an_older_torchrun(tmp_path, image_folder,
                                              straight, name, to):
    # SIGUSR1 would kill the older agent: the script sends it SIGTERM,
    # which it forwards; the trainers save alike.
    stand_in = tmp_path / 'old_torchrun.py'
    stand_in.write_text(OLD_TORCHRUN)
    stop_and_resume(tmp_path, image_folder, straight, dist_train,
                    dict(PORT=str(free_port()),
                         TORCHRUN=f'{sys.executable} {stand_in}'),
                    name, to, trainers_see='SIGTERM')


@pytest.mark.slow
@pytest.mark.parametrize('name, to, trainers_see', [
    ('SIGUSR1', 'launcher', 'SIGUSR1'), ('SIGINT', 'group', 'SIGTERM')])
def test_slurm_train_sh(tmp_path, image_folder, straight, name, to,
                        trainers_see):
    srun = tmp_path / 'bin' / 'srun'
    srun.parent.mkdir()
    srun.write_text(STAND_IN_SRUN.replace('PYTHON', sys.executable))
    srun.chmod(0o755)

    def slurm_train(config, work):
        return ['bash', osp.join(REPO_ROOT, 'tools', 'slurm_train.sh'),
                'partition', 'job', config, str(work)]

    stop_and_resume(
        tmp_path, image_folder, straight, slurm_train,
        dict(GPUS='2', GPUS_PER_NODE='2', MASTER_PORT=str(free_port()),
             PATH=f'{srun.parent}{os.pathsep}{os.environ["PATH"]}'),
        name, to, trainers_see=trainers_see)


# Imported by the training processes: stop when the first validation
# starts (rank 0 waits there until it has the signal).
STOP_IN_VALIDATION = """
import os, time
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class StopInValidation(Hook):

    def before_val(self, runner):
        marker = os.path.join(runner.work_dir, f'reached_{runner.rank}')
        if os.path.exists(marker):
            return
        with open(marker + '.part', 'w') as f:
            f.write(str(os.getpid()))
        os.replace(marker + '.part', marker)
        preemption = next(h for h in runner.hooks
                          if type(h).__name__ == 'PreemptionHook')
        while runner.rank == 0 and preemption.received is None:
            time.sleep(0.01)
"""


@pytest.mark.slow
def test_a_signal_during_validation_stops_every_rank(tmp_path,
                                                     photo_dataset):
    """k-NN after each epoch on 2 processes: SIGTERM to the launcher while
    the first validation runs stops both ranks at its first batch; the
    resumed run repeats it and ends at the straight run's parameters."""
    (tmp_path / 'stop_in_validation.py').write_text(STOP_IN_VALIDATION)
    extra = ("val_cfg.update(interval=1)\n"
             "model['backbone']['drop_path_rate'] = 0.1\n"
             "val_cfg['bank_dataloader']['batch_size'] = 16")
    plain = tiny_demo_config(tmp_path, photo_dataset,
                             'simmim_vit-micro_1xb32_photos-96px.py', extra)
    stopping = tiny_demo_config(
        tmp_path, photo_dataset, 'simmim_vit-micro_1xb32_photos-96px.py',
        extra + "\ncustom_imports = dict(imports=['mmkamim', "
        "'stop_in_validation'], allow_failed_imports=False)\n"
        "custom_hooks = _base_.custom_hooks + "
        "[dict(type='StopInValidation')]")
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join(
                   filter(None, [str(tmp_path),
                                 os.environ.get('PYTHONPATH')])))

    def launch(config, work):
        return ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'),
                config, '2', '--work-dir', str(work)]

    done = subprocess.run(launch(plain, tmp_path / 'straight'),
                          capture_output=True, text=True, timeout=600,
                          env=dict(env, PORT=str(free_port())))
    assert done.returncode == 0, done.stderr[-3000:]
    expected = parameters(tmp_path / 'straight' / 'epoch_2.pth')

    work = tmp_path / 'work'
    log = tmp_path / 'log.txt'
    with open(log, 'w') as out:
        launcher = launched(launch(stopping, work), stdout=out, stderr=out,
                            env=dict(env, PORT=str(free_port())))
        for rank in (0, 1):
            wait_for_file(work / f'reached_{rank}', launcher)
        os.kill(launcher.pid, signal.SIGTERM)
        assert launcher.wait(timeout=600) == 143, log.read_text()[-3000:]
    text = log.read_text()
    assert 'stopped by SIGTERM during the validation, after its batch 1 ' \
        'of ' in text
    checkpoint = work / (work / 'last_checkpoint').read_text()
    assert torch.load(checkpoint, weights_only=True)['meta'][
        'validation_interrupted'] is True
    done = subprocess.run(launch(plain, work) + ['--resume'],
                          capture_output=True, text=True, timeout=600,
                          env=dict(env, PORT=str(free_port())))
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'running it again' in done.stdout + done.stderr
    assert relative_difference(expected,
                               parameters(work / 'epoch_2.pth')) <= 1e-5


@pytest.mark.slow
def test_sigquit_ends_every_process_at_once(tmp_path, image_folder):
    """Ctrl-\\ (SIGQUIT) is passed on as it is: no save, nothing left."""
    config, env = stopping_config(tmp_path, image_folder, stop=STOP)
    env.update(OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(free_port()))
    work = tmp_path / 'work'
    with open(tmp_path / 'log.txt', 'w') as out:
        launcher = launched(dist_train(config, work), stdout=out,
                            stderr=out, env=env)
        for rank in (0, 1):
            wait_for_file(work / f'reached_{rank}', launcher)
        trainers = [int((work / f'reached_{rank}').read_text())
                    for rank in (0, 1)]
        os.killpg(launcher.pid, signal.SIGQUIT)
        assert launcher.wait(timeout=600) == 128 + signal.SIGQUIT
    assert not any(alive(pid) for pid in trainers)
    assert not (work / f'iter_{STOP}.pth').exists()
