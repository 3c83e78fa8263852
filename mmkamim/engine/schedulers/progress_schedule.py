"""A config's parameter schedules as functions of training progress.

mmengine's schedulers step once per iteration (or epoch) and compute each
value from the previous one, so their state only makes sense for the
iterations per epoch they were built with. After a resume on another batch
size or number of processes that count changes, and what a user means by
"10 warm-up epochs, then cosine to epoch 110" has to be evaluated at the
run's progress instead: completed epochs plus the fraction of the current
epoch's samples consumed. This module gives the closed forms of mmengine's
linear, cosine and constant schedulers (which the chained forms follow
step by step) for one list of ``param_scheduler`` configs.
"""
import math
from typing import Dict, List, Sequence

from mmengine.optim.scheduler import (
    ConstantParamScheduler,
    CosineAnnealingParamScheduler,
    LinearParamScheduler,
)
from mmengine.optim.scheduler.param_scheduler import INF
from mmpretrain.registry import PARAM_SCHEDULERS

from mmkamim.utils.errors import UsageError

_SUPPORTED = (LinearParamScheduler, CosineAnnealingParamScheduler,
              ConstantParamScheduler)


class ProgressSchedule:
    """Evaluate ``param_scheduler`` configs at any point of training.

    Epoch-based entries with ``convert_to_iter_based=True`` are continuous
    in epochs (the limit mmengine's per-iteration steps approach: a linear
    warm-up reaches its end factor at its ``end``); other epoch-based
    entries change at whole epochs, and iteration-based ones (``by_epoch
    =False``) at the given number of optimizer steps, both as mmengine
    steps them. Entries of one parameter must follow each other without
    overlapping, as warm-up and decay do.

    Args:
        configs (Sequence[dict]): The ``param_scheduler`` list.
        base_values (Dict[str, List[float]]): Each scheduled parameter's base
            value per parameter group (``initial_lr``: the config's ``lr``,
            after ``auto_scale_lr``).

    Raises:
        ValueError: A scheduler without a closed form here, or overlapping
            entries; the message names them.
    """

    def __init__(self, configs: Sequence[dict],
                 base_values: Dict[str, List[float]]) -> None:
        self.entries: Dict[str, List[dict]] = {}
        for config in configs:
            cls = PARAM_SCHEDULERS.get(config['type'])
            if cls is None or not issubclass(cls, _SUPPORTED):
                raise UsageError(
                    f"param_scheduler type {config['type']!r} has no closed "
                    'form in mmkamim (linear, cosine and constant ones do), '
                    'so it cannot follow a change of batch size or number '
                    'of processes: resume with the layout the checkpoint was '
                    'written with')
            entry = dict(config, cls=cls)
            entry.setdefault('begin', 0)
            entry.setdefault('end', INF)
            entry.setdefault('by_epoch', True)
            name = entry.get('param_name') or getattr(
                cls, 'param_name', None) or _param_name(cls)
            self.entries.setdefault(name, []).append(entry)
        for name, entries in self.entries.items():
            entries.sort(key=lambda e: e['begin'])
            for before, after in zip(entries, entries[1:]):
                if after['begin'] < before['end']:
                    raise UsageError(
                        f"param_scheduler entries {before['type']} and "
                        f"{after['type']} of {name!r} overlap; only "
                        'consecutive ones have a closed form here')
            if name not in base_values:
                raise ValueError(f'no base value for scheduled {name!r}')
        self.base_values = base_values

    def values(self, epochs: float, iterations: float) -> Dict[str, List]:
        """The scheduled values per parameter group.

        Args:
            epochs (float): Progress in epochs (completed epochs plus the
                fraction of the current one's samples consumed).
            iterations (float): Progress in optimizer steps of the current
                batch size (for ``by_epoch=False`` entries).

        Returns:
            Dict[str, List[float]]: Value of each scheduled parameter for
            each parameter group.
        """
        return {
            name: [
                self._value(entries, base, epochs, iterations)
                for base in self.base_values[name]
            ]
            for name, entries in self.entries.items()
        }

    @staticmethod
    def _value(entries: List[dict], base: float, epochs: float,
               iterations: float) -> float:
        value = base
        for entry in entries:
            continuous = entry['by_epoch'] and entry.get(
                'convert_to_iter_based', False)
            if not entry['by_epoch']:
                step = iterations
            else:
                step = epochs if continuous else math.floor(epochs)
            if step < entry['begin']:
                break
            value = _closed_form(entry, value, base, step, continuous)
        return value


def _param_name(cls) -> str:
    """``lr`` for mmengine's LR schedulers, ``momentum`` for momentum
    ones."""
    return 'momentum' if 'Momentum' in cls.__name__ else 'lr'


def _closed_form(entry: dict, start: float, base: float, step: float,
                 continuous: bool) -> float:
    """The value of one scheduler ``step`` units after ``begin``, from the
    value ``start`` it began with; after its ``end`` the last value."""
    cls, begin, end = entry['cls'], entry['begin'], entry['end']
    # mmengine's last update is at step end - 1; the continuous form (of
    # converted entries) reaches its end value at ``end``.
    last = end - begin if continuous else end - begin - 1
    k = min(step - begin, last)
    if issubclass(cls, LinearParamScheduler):
        first = entry.get('start_factor', 1.0 / 3)
        final = entry.get('end_factor', 1.0)
        return start * (first + (final - first) * (k / last if last else 1))
    if issubclass(cls, CosineAnnealingParamScheduler):
        t_max = entry.get('T_max') or end - begin
        eta_min = entry.get('eta_min')
        if eta_min is None:
            ratio = entry.get('eta_min_ratio')
            eta_min = base * ratio if ratio is not None else 0.0
        return eta_min + (start - eta_min) * (1 + math.cos(
            math.pi * k / t_max)) / 2
    # ConstantParamScheduler: the factor until its last step.
    return start * entry.get('factor', 1.0 / 3) if k < last else start
