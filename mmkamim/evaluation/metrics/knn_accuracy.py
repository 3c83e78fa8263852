"""Weighted k-NN accuracy of features, over all ranks."""
from typing import Dict, NamedTuple, Sequence

import torch
from mmengine.dist import all_gather, all_reduce, get_rank, get_world_size
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

from mmkamim.utils.errors import UsageError

from ..functional import knn_classify, knn_correct


class Features(NamedTuple):
    """One rank's features, with their labels and dataset indices."""
    features: torch.Tensor  # (n, D)
    labels: torch.Tensor  # (n, )
    indices: torch.Tensor  # (n, ), into the dataset


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's rows, in rank order; the ranks may hold different
    numbers of rows (a sampler with ``round_up=False``).

    Each share is padded to the longest for the gather (which needs equal
    sizes), and the padding dropped.
    """
    sizes = [int(n) for n in all_gather(
        torch.tensor([len(tensor)], device=tensor.device))]
    padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
    padded[:len(tensor)] = tensor
    return torch.cat([rows[:n] for rows, n in zip(all_gather(padded),
                                                   sizes)])


def gather_unique(part: Features) -> Features:
    """Every rank's features, each dataset index once, in index order.

    mmengine's samplers pad the last share with repeated indices (all
    shares then have the same length; with ``round_up=False`` they do not,
    and need no padding), so the gathered features are sorted by index and
    the repeats dropped.
    """
    if get_world_size() > 1:
        part = Features(*(gather_rows(t) for t in part))
    order = part.indices.argsort(stable=True)
    indices = part.indices[order]
    first = torch.ones_like(indices, dtype=torch.bool)
    first[1:] = indices[1:] != indices[:-1]
    keep = order[first]
    return Features(*(t[keep] for t in part))


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Weighted k-NN top-1 and top-5 accuracy (DINO's rule; see
    :func:`~mmkamim.evaluation.functional.knn_classify`).

    Used by :class:`~mmkamim.engine.runners.KNNValLoop`, which hands it the
    bank's and the queries' features (:meth:`evaluate_features`). Every rank
    sees the whole bank; each scores its share of the queries and the counts
    are summed, so any number of processes gives the same figures.

    Args:
        ks (Sequence[int]): Neighbour counts. Defaults to (10, 20, 100, 200).
        tau (float): Temperature. Defaults to 0.07.
        reported_k (int): The k whose accuracy is also reported as
            ``knn/top1`` and ``knn/top5``. Defaults to 20.
        query_chunk (int): Queries scored at once. Defaults to 256.
        bank_chunk (int): Bank features compared at once. Defaults to 65536.
        bank_dtype (str): ``'float32'`` or ``'float16'`` (half the bank's
            memory, at every step: extraction, gathering and scoring;
            similarities are still float32). Defaults to ``'float32'``.
    """

    default_prefix = 'knn'

    def __init__(self,
                 ks: Sequence[int] = (10, 20, 100, 200),
                 tau: float = 0.07,
                 reported_k: int = 20,
                 query_chunk: int = 256,
                 bank_chunk: int = 65536,
                 bank_dtype: str = 'float32',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not ks or any(k < 1 for k in ks):
            raise UsageError(f'ks must be positive neighbour counts, got {ks}')
        if reported_k not in ks:
            raise UsageError(f'reported_k={reported_k} is not among ks={ks}')
        if bank_dtype not in ('float32', 'float16'):
            raise UsageError("bank_dtype must be 'float32' or 'float16', "
                             f'got {bank_dtype!r}')
        self.ks = tuple(ks)
        self.tau = tau
        self.reported_k = reported_k
        self.query_chunk = query_chunk
        self.bank_chunk = bank_chunk
        self.bank_dtype = getattr(torch, bank_dtype)

    def stored(self, features: torch.Tensor, bank: bool) -> torch.Tensor:
        """One batch's features as :meth:`evaluate_features` takes them.

        L2-normalised in float32 batch by batch, the bank's then kept in
        ``bank_dtype``: a float16 bank is never held (nor gathered) in
        float32 whole. Queries stay float32.

        Args:
            features (torch.Tensor): (B, D) features of a batch.
            bank (bool): Whether they join the bank.

        Returns:
            torch.Tensor: (B, D) unit-length rows.
        """
        normalised = torch.nn.functional.normalize(features.float(), dim=1)
        return normalised.to(self.bank_dtype) if bank else normalised

    def evaluate_features(self, bank: Features,
                          queries: Features) -> Dict[str, float]:
        """k-NN accuracy (%) of the queries against the bank; call on every
        rank.

        Args:
            bank (Features): This rank's bank features, as :meth:`stored`
                gives them.
            queries (Features): This rank's query features, likewise.

        Returns:
            dict[str, float]: ``knn/top1_k{k}``, ``knn/top5_k{k}`` for each
            k, and ``knn/top1``, ``knn/top5`` for ``reported_k``.
        """
        bank, queries = gather_unique(bank), gather_unique(queries)
        if not len(queries.indices):
            raise UsageError('the k-NN query set is empty: it needs '
                             'validation images')
        num_classes = int(torch.cat([bank.labels, queries.labels]).max()) + 1
        mine = slice(get_rank(), None, get_world_size())
        top = knn_classify(
            queries.features[mine], bank.features, bank.labels, num_classes,
            self.ks, self.tau, self.query_chunk, self.bank_chunk)
        counts = knn_correct(top, queries.labels[mine])
        names = sorted(counts)
        total = torch.tensor([counts[n] for n in names], dtype=torch.float64)
        if get_world_size() > 1:
            all_reduce(total)
        metrics = {
            f'{self.prefix}/{name}': float(value / len(queries.indices) * 100)
            for name, value in zip(names, total)
        }
        for n in (1, 5):
            metrics[f'{self.prefix}/top{n}'] = metrics[
                f'{self.prefix}/top{n}_k{self.reported_k}']
        return metrics

    def process(self, data_batch, data_samples) -> None:
        raise NotImplementedError('KNNAccuracy is evaluated by KNNValLoop')

    def compute_metrics(self, results: list) -> dict:
        raise NotImplementedError('KNNAccuracy is evaluated by KNNValLoop')
