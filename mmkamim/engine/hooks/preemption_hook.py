"""Save and stop when the cluster asks a run to stop (Slurm preemption and
time limits)."""
import logging
import os
import signal
import threading
from typing import Callable, Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from mmkamim.utils.errors import UsageError

from .atomic_checkpoint_hook import AtomicCheckpointHook


class OutsideSignalsIgnored:
    """A dataloader ``worker_init_fn`` that makes the worker ignore the stop
    signals unless they come from its parent, then runs the original one.

    Slurm signals every process of a job step, dataloader workers included.
    torch's worker dies on a SIGTERM from anyone but its parent (SIGUSR1
    kills it too), and the training process then raises "DataLoader worker
    is killed by signal" wherever it is, possibly while it saves. Ignoring
    the signals outright would make the worker deaf to its parent as well,
    and the interpreter's exit would wait for it forever. So the signals are
    blocked and a thread takes them (``sigwaitinfo``, which tells the
    sender): from the parent (the DataLoader or ``multiprocessing`` stopping
    its worker) the worker exits as torch's own handler makes it; from
    elsewhere, nothing happens.

    Args:
        signals (Sequence[int]): The signals to take.
        init_fn (Callable, optional): The loader's own ``worker_init_fn``.
    """

    def __init__(self, signals: Sequence[int],
                 init_fn: Optional[Callable] = None) -> None:
        self.signals = set(signals)
        self.init_fn = init_fn

    def __call__(self, worker_id: int) -> None:
        parent = os.getppid()
        signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

        def take_signals() -> None:
            while True:
                if signal.sigwaitinfo(self.signals).si_pid == parent:
                    os._exit(0)

        threading.Thread(target=take_signals, daemon=True).start()
        if self.init_fn is not None:
            self.init_fn(worker_id)


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Stop a run that receives SIGTERM or SIGUSR1 with a checkpoint of
    where it is, and exit as interrupted.

    Slurm sends SIGTERM when it preempts a job or its time runs out (then
    SIGKILL after ``KillWait``), and SIGUSR1 ahead of that when asked
    (``#SBATCH --signal=USR1@90``). On either signal the run finishes the
    current iteration; all ranks agree, after the same iteration, to stop
    (a flag all-reduced at every iteration boundary: the signal handler
    itself only notes the signal); rank 0 writes a checkpoint of that
    position through :meth:`AtomicCheckpointHook.save_interrupted` and every
    rank passes a barrier after it; the log names the signal and the
    checkpoint ``--resume`` will continue from; every process exits with
    ``128 + signal`` (143 for SIGTERM, 138 for SIGUSR1). More signals during
    the save change nothing. Dataloader workers ignore the signals (see
    :class:`OutsideSignalsIgnored`).

    Needs ``default_hooks.checkpoint`` to be an
    :class:`AtomicCheckpointHook`.

    Args:
        signals (Sequence[str]): Names of the signals that stop the run.
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
    """

    priority = 'LOWEST'  # after the interval checkpoint of the iteration

    def __init__(self, signals: Sequence[str] = ('SIGTERM',
                                                 'SIGUSR1')) -> None:
        self.signals = []
        for name in signals:
            number = getattr(signal, str(name), None)
            if not isinstance(number, signal.Signals) or name in ('SIGKILL',
                                                                  'SIGSTOP'):
                raise ValueError(
                    f'signals: {name!r} is not a signal a process can '
                    "handle; use names such as 'SIGTERM' or 'SIGUSR1'")
            self.signals.append(number)
        self.received: Optional[int] = None
        self._previous: Dict[int, object] = {}

    def before_train(self, runner) -> None:
        """Install the handlers, and make dataloader workers ignore the
        signals."""
        checkpoints = [h for h in runner.hooks
                       if isinstance(h, AtomicCheckpointHook)]
        if not checkpoints:
            raise UsageError(
                'PreemptionHook saves through AtomicCheckpointHook: set '
                "default_hooks.checkpoint.type='AtomicCheckpointHook'")
        self._checkpoint = checkpoints[0]
        if threading.current_thread() is not threading.main_thread():
            print_log('PreemptionHook: training runs outside the main '
                      'thread, where Python cannot handle signals; stop '
                      'signals will end the run without a checkpoint',
                      logger='current', level=logging.WARNING)
            return
        for number in self.signals:
            self._previous[number] = signal.signal(number, self._note)
        if not hasattr(signal, 'sigwaitinfo'):  # not on macOS, Windows
            return
        loops = [runner.train_loop, runner.val_loop]
        for loop in loops:
            loader = getattr(loop, 'dataloader', None)
            if not getattr(loader, 'num_workers', 0):
                continue
            if getattr(loop, 'dataloader_iterator', None) is not None:
                print_log(
                    f'{type(loop).__name__} started its dataloader workers '
                    'before PreemptionHook could make them ignore stop '
                    'signals; a stop signal sent to them too (as Slurm '
                    'does) ends the run without a checkpoint. Use '
                    "train_cfg.type='ResumableIterBasedTrainLoop'",
                    logger='current', level=logging.WARNING)
                continue
            loader.worker_init_fn = OutsideSignalsIgnored(
                self.signals, loader.worker_init_fn)

    def _note(self, number: int, frame) -> None:
        if self.received is None:
            self.received = number

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Stop here if any rank received a stop signal."""
        number = self.received or 0
        if get_world_size() > 1:
            flag = torch.tensor(number)
            all_reduce(flag, op='max')
            number = int(flag)
        if not number:
            return
        name = signal.Signals(number).name
        print_log(f'{name} received: saving the run after iteration '
                  f'{runner.iter + 1} (epoch {runner.epoch + 1}) before it '
                  'stops', logger='current', level=logging.WARNING)
        path = self._checkpoint.save_interrupted(runner)
        barrier()
        print_log(f'stopped by {name} after iteration {runner.iter + 1}; '
                  f'continue with --resume (it picks {path}). Exit code '
                  f'{128 + number}', logger='current',
                  level=logging.WARNING)
        raise SystemExit(128 + number)

    def after_train(self, runner) -> None:
        if self.received is not None:
            print_log(f'{signal.Signals(self.received).name} arrived after '
                      'the last iteration: the run is complete',
                      logger='current', level=logging.WARNING)

    def after_run(self, runner) -> None:
        """Give the signals back their previous handlers."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
