"""Mean and spread of a run's figures over its seeds."""
import math
import statistics
from typing import Sequence

_SUMMARISED = ('final_loss', 'knn_top1', 'top1', 'top5', 'pretrain_seconds',
               'probe_seconds')


def summarise(name: str, per_seed: Sequence[dict]) -> dict:
    """One run over several seeds: the first seed's curve, and the mean
    and (sample) standard deviation of every figure.

    A figure the run does not have (NaN: the pre-training loss and time of
    a run that probes a given checkpoint, the k-NN accuracy of a config
    without k-NN evaluation) stays NaN, its spread too.
    """
    summary = dict(per_seed[0], name=name, seeds=[r['seed'] for r in per_seed],
                   per_seed=list(per_seed))
    for key in _SUMMARISED:
        values = [r[key] for r in per_seed]
        if any(math.isnan(v) for v in values):
            summary[key] = summary[f'{key}_std'] = math.nan
            continue
        summary[key] = statistics.fmean(values)
        summary[f'{key}_std'] = (statistics.stdev(values)
                                 if len(values) > 1 else 0.0)
    return summary
