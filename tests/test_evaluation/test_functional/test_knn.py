"""The weighted k-NN classifier against a brute-force reference of DINO's
rule, written out loop by loop.

Features are 16-dimensional with entries +-1/4, so they are unit vectors
and every similarity is a multiple of 1/16, exact in float32 whatever the
order of the sums: many neighbours tie, which exercises the tie rules.
"""
import math

import pytest
import torch

from mmkamim.evaluation.functional import knn_classify, knn_correct


def sign_features(count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (count, 16), generator=generator) * 2 - 1
    return signs.float() / 4


def reference(queries, bank, labels, num_classes, k, tau):
    """Top-5 classes (-1 past the positive scores) of every query."""
    out = []
    for query in queries.tolist():
        sims = [sum(a * b for a, b in zip(query, feature))
                for feature in bank.tolist()]
        # Nearest first; equal similarity: the lower bank index.
        order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))[:k]
        scores = [0.0] * num_classes
        for i in order:
            scores[int(labels[i])] += math.exp(sims[i] / tau)
        # Highest score first; equal scores: the lower class.
        classes = sorted(range(num_classes), key=lambda c: (-scores[c], c))
        top = [c if scores[c] > 0 else -1 for c in classes[:5]]
        out.append(top + [-1] * (5 - len(top)))
    return torch.tensor(out)


@pytest.mark.parametrize('query_chunk, bank_chunk', [(7, 5), (64, 1000),
                                                     (1, 13)])
@pytest.mark.parametrize('tau', [0.07, 0.5])
def test_equals_the_reference(query_chunk, bank_chunk, tau):
    bank, queries = sign_features(37, 0), sign_features(23, 1)
    labels = torch.randint(0, 6, (37, ),
                           generator=torch.Generator().manual_seed(2))
    ks = (1, 3, 10, 20, 37)
    top = knn_classify(queries, bank, labels, 6, ks, tau, query_chunk,
                       bank_chunk)
    for k in ks:
        assert torch.equal(top[k], reference(queries, bank, labels, 6, k,
                                             tau)), k


def test_ties_go_to_the_lower_bank_index_and_class():
    # Four bank features at the same similarity to the query; k = 2 takes
    # indices 0 and 1 (classes 3 and 1): equal scores, class 1 first.
    query = torch.tensor([[1.0, 0.0]])
    bank = torch.tensor([[1.0, 0.0]] * 4)
    labels = torch.tensor([3, 1, 0, 2])
    top = knn_classify(query, bank, labels, 4, ks=(2, ), bank_chunk=3)[2]
    assert top.tolist() == [[1, 3, -1, -1, -1]]


def test_separable_clusters_and_a_query_equal_to_a_bank_feature():
    generator = torch.Generator().manual_seed(0)
    centres = torch.eye(8)[:4] * 10
    bank = torch.cat([c + torch.randn(20, 8, generator=generator)
                      for c in centres])
    labels = torch.arange(4).repeat_interleave(20)
    queries = torch.cat([c + torch.randn(5, 8, generator=generator)
                         for c in centres])
    normalise = torch.nn.functional.normalize
    top = knn_classify(normalise(queries), normalise(bank), labels, 4,
                       ks=(1, 20))
    correct = knn_correct(top, torch.arange(4).repeat_interleave(5))
    assert correct['top1_k1'] == correct['top1_k20'] == 20
    # A query equal to a bank feature, k = 1: that feature's label.
    bank = normalise(torch.randn(50, 8, generator=generator))
    labels = torch.randint(0, 9, (50, ), generator=generator)
    top = knn_classify(bank[17:18], bank, labels, 9, ks=(1, ))[1]
    assert top[0, 0] == labels[17]


def test_top5_with_fewer_classes_counts_only_neighbours():
    query = torch.tensor([[1.0, 0.0]])
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 2])
    top = knn_classify(query, bank, labels, 3, ks=(2, ))
    assert top[2].tolist() == [[0, 1, -1, -1, -1]]
    # Class 2 is in no top-5: it has no neighbour among the k = 2.
    assert knn_correct(top, torch.tensor([2])) == {'top1_k2': 0,
                                                   'top5_k2': 0}


def test_a_float16_bank_gives_the_float32_result():
    bank, queries = sign_features(40, 3), sign_features(10, 4)
    labels = torch.arange(40) % 7
    exact = knn_classify(queries, bank, labels, 7, ks=(5, 20))
    half = knn_classify(queries, bank.half(), labels, 7, ks=(5, 20),
                        bank_chunk=9)
    for k in exact:
        assert torch.equal(exact[k], half[k])


@pytest.mark.parametrize('case, kwargs, message', [
    ('k larger than the bank', dict(ks=(11, )), r'k=\[11\] for a bank of 10'),
    ('empty bank', dict(bank=torch.zeros(0, 16), labels=torch.zeros(0)),
     'the k-NN bank is empty'),
    ('missing labels', dict(labels=torch.zeros(0, dtype=torch.long)),
     'the k-NN bank has 10 features but \\(0,\\) labels'),
    ('labels out of range', dict(labels=torch.full((10, ), 9)),
     r'labels must lie in \[0, 3\)'),
])
def test_what_cannot_work_is_named(case, kwargs, message):
    bank = kwargs.pop('bank', sign_features(10, 5))
    labels = kwargs.pop('labels', torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match=message):
        knn_classify(sign_features(2, 6), bank, labels, 3,
                     **dict(dict(ks=(1, )), **kwargs))
