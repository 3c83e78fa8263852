"""Weighted k-nearest-neighbour classification of features (DINO's).

Caron et al. (2021) read a frozen encoder's quality off a k-NN classifier:
features are L2-normalised; each query takes the k training features of
highest cosine similarity, and class c scores the sum over those neighbours
of label c of exp(similarity / tau). It needs no training, so it is a
quick, if rough, stand-in for a linear probe.

Everything here is exact and deterministic: similarities are float32 (a
float16 bank is widened chunk by chunk), ties at equal similarity go to the
lower training index and ties at equal score to the lower class index.
Memory is bounded by the chunk sizes: at most ``query_chunk`` x
``bank_chunk`` similarities exist at once.
"""
from typing import Dict, Sequence

import torch

from mmkamim.utils.errors import UsageError

# Top-5 counts a class only if it has a neighbour (a positive score): with
# k < 5, or fewer than 5 classes among the neighbours, the top-5 is shorter.
TOPK = (1, 5)


def _ordered(values: torch.Tensor, indices: torch.Tensor,
             count: int) -> tuple:
    """The ``count`` best (value, index) pairs of each row, by value
    descending then index ascending."""
    by_index = indices.argsort(dim=1, stable=True)
    values = values.gather(1, by_index)
    indices = indices.gather(1, by_index)
    by_value = (-values).argsort(dim=1, stable=True)[:, :count]
    return values.gather(1, by_value), indices.gather(1, by_value)


def _chunk_neighbours(sims: torch.Tensor, offset: int, count: int) -> tuple:
    """The ``count`` nearest of one bank chunk, ties to the lower index.

    ``torch.topk`` keeps an arbitrary subset of the entries tied with its
    last value; the rows where that subset can differ from the lowest
    indices are sorted whole.
    """
    count = min(count, sims.shape[1])
    values, indices = sims.topk(count, dim=1)
    last = values[:, -1:]
    ties = (sims == last).sum(1) > (values == last).sum(1)
    if ties.any():
        rows = ties.nonzero()[:, 0]
        order = (-sims[rows]).argsort(dim=1, stable=True)[:, :count]
        values[rows] = sims[rows].gather(1, order)
        indices[rows] = order
    return values, indices + offset


def nearest_neighbours(queries: torch.Tensor, bank: torch.Tensor, k: int,
                       bank_chunk: int = 65536) -> tuple:
    """Cosine similarities and bank indices of each query's ``k`` nearest
    bank features (ties to the lower bank index).

    Args:
        queries (torch.Tensor): (Q, D) L2-normalised features.
        bank (torch.Tensor): (N, D) L2-normalised features (float16 or
            float32).
        k (int): Neighbours per query, at most N.
        bank_chunk (int): Bank features compared at once.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: (Q, k) float32 similarities,
        descending, and (Q, k) int64 bank indices.
    """
    queries = queries.float()
    best_values = best_indices = None
    for start in range(0, bank.shape[0], bank_chunk):
        chunk = bank[start:start + bank_chunk].float()
        values, indices = _chunk_neighbours(queries @ chunk.T, start, k)
        if best_values is not None:
            values = torch.cat([best_values, values], 1)
            indices = torch.cat([best_indices, indices], 1)
        best_values, best_indices = _ordered(values, indices, k)
    return best_values, best_indices


def knn_classify(queries: torch.Tensor,
                 bank: torch.Tensor,
                 bank_labels: torch.Tensor,
                 num_classes: int,
                 ks: Sequence[int] = (10, 20, 100, 200),
                 tau: float = 0.07,
                 query_chunk: int = 256,
                 bank_chunk: int = 65536) -> Dict[int, torch.Tensor]:
    """Each query's top-5 classes under the weighted k-NN rule, for each k.

    Args:
        queries (torch.Tensor): (Q, D) L2-normalised query features.
        bank (torch.Tensor): (N, D) L2-normalised training features.
        bank_labels (torch.Tensor): (N, ) int64 labels in
            [0, ``num_classes``).
        num_classes (int): Number of classes.
        ks (Sequence[int]): Neighbour counts.
        tau (float): Temperature of exp(similarity / tau).
        query_chunk (int): Queries scored at once.
        bank_chunk (int): Bank features compared at once.

    Returns:
        dict[int, torch.Tensor]: For each k, (Q, 5) int64 classes by score
        (ties to the lower class), -1 past the classes with a positive
        score.

    Raises:
        UsageError: An empty bank, a k larger than the bank, labels missing
            or out of range, or a non-positive tau or chunk size.
    """
    if bank.shape[0] == 0:
        raise UsageError('the k-NN bank is empty: it needs training images')
    if bank_labels.shape != (bank.shape[0], ):
        raise UsageError(
            f'the k-NN bank has {bank.shape[0]} features but '
            f'{tuple(bank_labels.shape)} labels: every bank image needs a '
            'class label (a labelled dataset, e.g. ImageNet with its list)')
    if len(bank_labels) and (bank_labels.min() < 0
                             or bank_labels.max() >= num_classes):
        raise UsageError(f'k-NN bank labels must lie in [0, {num_classes}), '
                         f'got [{int(bank_labels.min())}, '
                         f'{int(bank_labels.max())}]')
    too_large = [k for k in ks if not 1 <= k <= bank.shape[0]]
    if too_large:
        raise UsageError(f'k={too_large} for a bank of {bank.shape[0]} '
                         f'features: each k must be in [1, {bank.shape[0]}]; '
                         'choose smaller ks (val_evaluator.ks) or a larger '
                         'bank')
    if not tau > 0 or query_chunk < 1 or bank_chunk < 1:
        raise UsageError(f'tau ({tau}), query_chunk ({query_chunk}) and '
                         f'bank_chunk ({bank_chunk}) must be > 0')
    bank_labels = bank_labels.to(bank.device)
    largest = max(ks)
    out = {k: [] for k in ks}
    for start in range(0, queries.shape[0], query_chunk):
        sims, indices = nearest_neighbours(
            queries[start:start + query_chunk].to(bank.device), bank,
            largest, bank_chunk)
        # Summed in float64, neighbour by neighbour: classes with the same
        # neighbours' similarities score exactly alike, and the tie goes to
        # the lower class.
        weights = (sims.double() / tau).exp()
        labels = bank_labels[indices]
        for k in ks:
            scores = torch.zeros(len(sims), num_classes, dtype=torch.float64,
                                 device=sims.device).scatter_add_(
                                     1, labels[:, :k], weights[:, :k])
            order = (-scores).argsort(dim=1, stable=True)[:, :max(TOPK)]
            top = order.clone()
            top[scores.gather(1, order) <= 0] = -1
            if num_classes < max(TOPK):
                top = torch.cat([top, top.new_full(
                    (len(top), max(TOPK) - num_classes), -1)], 1)
            out[k].append(top)
    return {k: torch.cat(parts) for k, parts in out.items()}


def knn_correct(top: Dict[int, torch.Tensor],
                labels: torch.Tensor) -> Dict[str, int]:
    """How many queries :func:`knn_classify` gets right, top-1 and top-5.

    Returns:
        dict[str, int]: ``top1_k{k}`` and ``top5_k{k}`` counts for each k.
    """
    counts = {}
    for k, classes in top.items():
        hits = classes == labels.to(classes.device)[:, None]
        for n in TOPK:
            counts[f'top{n}_k{k}'] = int(hits[:, :n].any(1).sum())
    return counts
