"""Save and stop when the cluster asks a run to stop (Slurm preemption and
time limits, docker stop, Ctrl-C), in training, validation and testing."""
import atexit
import logging
import os
import signal
import threading
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
from mmengine.dist import all_reduce, barrier, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner.base_loop import BaseLoop
from mmpretrain.registry import HOOKS

from mmkamim.utils.errors import UsageError
from mmkamim.utils.random_state import rng_state, set_rng_state

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


def exit_ignoring(signals: Sequence[int], code: int) -> None:
    """Raise ``SystemExit(code)``; the interpreter's shutdown ignores
    ``signals``.

    Python gives every handled signal its default action back once its
    shutdown is under way, and a rank's shutdown (gloo, NCCL, workers) takes
    a moment: torchrun sees the first rank exit and sends SIGTERM to the
    others, which would then die of it (exit -15, reported as killed)
    although they have saved and are leaving anyway. The exit handler runs
    before Python restores the defaults, and an ignored signal stays
    ignored. A caller that catches the ``SystemExit`` (a test) keeps its
    handlers until it exits itself.
    """
    def ignore() -> None:
        for number in signals:
            signal.signal(number, signal.SIG_IGN)

    atexit.register(ignore)
    raise SystemExit(code)


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Stop a run that receives SIGTERM, SIGINT or SIGUSR1 with a checkpoint
    of where it is, and exit as interrupted.

    Slurm sends SIGTERM when it preempts a job or its time runs out (then
    SIGKILL after ``KillWait``), and SIGUSR1 ahead of that when asked
    (``#SBATCH --signal=USR1@90``); ``docker stop`` and Kubernetes send
    SIGTERM, a terminal's Ctrl-C SIGINT. The signal handler only notes the
    signal; the ranks agree to stop through a flag all-reduced at every
    iteration boundary, and every rank stops at the same point:

    - **in training**, after the current iteration: rank 0 writes a
      checkpoint of that position through
      :meth:`AtomicCheckpointHook.save_interrupted`;
    - **in a validation during training** (mmengine's ``ValLoop``,
      :class:`~mmkamim.engine.runners.KNNValLoop`), at the next batch (the
      flag is shared after every batch that all ranks run): the checkpoint
      holds the training position before the validation, its random
      generators included, and marks the validation as interrupted, so
      ``--resume`` runs that validation again first and then trains as the
      uninterrupted run; a signal during the validation's last steps
      (scoring, hooks) stops the run after it;
    - **in testing** (``tools/test.py``, an evaluation without training),
      at the next batch, writing no results.

    Every rank passes a barrier after the save; the log names the signal
    and the checkpoint ``--resume`` will continue from; every process exits
    with ``128 + signal`` (143 for SIGTERM, 130 for SIGINT, 138 for
    SIGUSR1). More signals during the save and the exit change nothing
    (SIGQUIT or SIGKILL end a run at once; see :func:`exit_ignoring`).
    Dataloader workers ignore the signals (see
    :class:`OutsideSignalsIgnored`).

    Training needs ``default_hooks.checkpoint`` to be an
    :class:`AtomicCheckpointHook`.

    Args:
        signals (Sequence[str]): Names of the signals that stop the run.
            Defaults to ``('SIGTERM', 'SIGINT', 'SIGUSR1')``.
    """

    priority = 'LOWEST'  # after the interval checkpoint of the iteration

    def __init__(self,
                 signals: Sequence[str] = ('SIGTERM', 'SIGINT',
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
        self._checkpoint: Optional[AtomicCheckpointHook] = None
        self._training = False
        self._training_rng: Optional[dict] = None
        # (batches every rank runs, this rank's) of the loop being run
        self._shared_batches: Optional[Tuple[int, int]] = None
        self._repeat_validation = False

    def before_run(self, runner) -> None:
        """Install the handlers, and make dataloader workers ignore the
        signals (training, validation and test runs alike)."""
        if threading.current_thread() is not threading.main_thread():
            print_log('PreemptionHook: the run is outside the main thread, '
                      'where Python cannot handle signals; stop signals '
                      'will end it without a checkpoint', logger='current',
                      level=logging.WARNING)
            return
        for number in self.signals:
            self._previous[number] = signal.signal(number, self._note)
        if not hasattr(signal, 'sigwaitinfo'):  # not on macOS, Windows
            return
        loops = [runner._train_loop, runner._val_loop, runner._test_loop]
        for loop in loops:
            loader = getattr(loop, 'dataloader', None) if isinstance(
                loop, BaseLoop) else None
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

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Note a resumed checkpoint written during a validation."""
        meta = checkpoint.get('meta') or {}
        if runner.cfg.get('resume') and meta.get('validation_interrupted'):
            self._repeat_validation = True

    def before_train(self, runner) -> None:
        """Find the checkpoint hook; run again a validation the resumed
        run was stopped in (after every other hook has restored its state:
        this hook runs last)."""
        checkpoints = [h for h in runner.hooks
                       if isinstance(h, AtomicCheckpointHook)]
        if not checkpoints:
            raise UsageError(
                'PreemptionHook saves through AtomicCheckpointHook: set '
                "default_hooks.checkpoint.type='AtomicCheckpointHook'")
        self._checkpoint = checkpoints[0]
        self._training = True
        if self._repeat_validation and runner.val_loop is not None:
            self._repeat_validation = False
            print_log(f'the run was stopped during the validation after '
                      f'iteration {runner.iter}: running it again',
                      logger='current')
            runner.val_loop.run()

    def _note(self, number: int, frame) -> None:
        if self.received is None:
            self.received = number

    def _agreed(self) -> int:
        """The signal any rank received (0 if none): a collective."""
        number = self.received or 0
        if get_world_size() > 1:
            flag = torch.tensor(number)
            all_reduce(flag, op='max')
            number = int(flag)
        return number

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Stop here if any rank received a stop signal."""
        number = self._agreed()
        if number:
            self._stop(runner, number, runner.iter + 1,
                       f'after iteration {runner.iter + 1}')

    def before_val(self, runner) -> None:
        """Keep the training's random generators: a validation stopped
        half-way is saved as the position before it."""
        if self._training:
            self._training_rng = rng_state()

    def before_validation_batches(self, runner, loader) -> None:
        """Note how many batches of ``loader`` every rank runs (a
        collective; the ranks' shares differ with ``round_up=False``):
        the stop flag is shared after each of those. Loops that call no
        per-batch hooks (:class:`KNNValLoop`) call this and
        :meth:`after_validation_batch` themselves."""
        count = torch.tensor(len(loader))
        if get_world_size() > 1:
            all_reduce(count, op='min')
        self._shared_batches = (int(count), len(loader))

    def after_validation_batch(self, runner, batch_idx: int) -> None:
        """Stop here if any rank received a stop signal (every rank calls
        this after each batch of the loader last announced)."""
        if self._shared_batches is None or \
                batch_idx >= self._shared_batches[0]:
            return
        number = self._agreed()
        if not number:
            return
        phase = 'validation' if self._training else 'evaluation'
        where = (f'during the {phase}, after its batch {batch_idx + 1} of '
                 f'{self._shared_batches[1]}')
        if not self._training:
            self._stop_without_saving(number, where)
        # The position before the validation, which --resume runs again.
        set_rng_state(self._training_rng)
        self._stop(runner, number, runner.iter, where,
                   repeat_validation=True)

    def before_val_epoch(self, runner) -> None:
        self.before_validation_batches(runner, runner.val_loop.dataloader)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        self.after_validation_batch(runner, batch_idx)

    def after_val(self, runner) -> None:
        """Stop after a validation if any rank received a stop signal during
        its last steps (the ones not shared batch by batch)."""
        self._shared_batches = None
        number = self._agreed()
        if not number:
            return
        if not self._training:
            self._stop_without_saving(number, 'after the evaluation')
        self._stop(runner, number, runner.iter,
                   f'after the validation after iteration {runner.iter}')

    def before_test_epoch(self, runner) -> None:
        self.before_validation_batches(runner, runner.test_loop.dataloader)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        self.after_validation_batch(runner, batch_idx)

    def after_test(self, runner) -> None:
        # Every batch ran: the test completes and writes its results.
        self._shared_batches = None

    def _stop(self, runner, number: int, step: int, where: str,
              repeat_validation: bool = False) -> None:
        """Save the training position after ``step`` iterations on every
        rank, and exit."""
        name = signal.Signals(number).name
        print_log(f'{name} received: saving the run {where} (epoch '
                  f'{runner.epoch + 1}) before it stops', logger='current',
                  level=logging.WARNING)
        path = self._checkpoint.save_interrupted(
            runner, step=step, repeat_validation=repeat_validation)
        barrier()
        again = ('; it runs the interrupted validation again first'
                 if repeat_validation else '')
        print_log(f'stopped by {name} {where}; continue with --resume (it '
                  f'picks {path}{again}). Exit code {128 + number}',
                  logger='current', level=logging.WARNING)
        exit_ignoring(self.signals, 128 + number)

    def _stop_without_saving(self, number: int, where: str) -> None:
        name = signal.Signals(number).name
        print_log(f'stopped by {name} {where}; no results written. Exit '
                  f'code {128 + number}', logger='current',
                  level=logging.WARNING)
        exit_ignoring(self.signals, 128 + number)

    def after_train(self, runner) -> None:
        self._training = False
        if self.received is not None:
            print_log(f'{signal.Signals(self.received).name} arrived after '
                      'the last iteration: the run is complete',
                      logger='current', level=logging.WARNING)

    def after_run(self, runner) -> None:
        """Give the signals back their previous handlers."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}
