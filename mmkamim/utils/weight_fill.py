"""How a checkpoint's tensors fill a module's parameters.

mmengine loads weights with ``strict=False`` (``load_from``, the
``Pretrained`` initialiser): a tensor of another shape or a missing one is
only a warning, and the parameter keeps its random initialisation. The
hooks that stop such runs (``CheckPretrainedHook`` for a backbone's
``init_cfg``, ``CheckLoadFromHook`` for ``load_from``) count here what a
checkpoint fills, by tensor and by value.
"""
from fnmatch import fnmatch
from typing import Dict, List, NamedTuple, Sequence

import torch
from torch import nn

# Parameters MMPretrain resizes when it loads them, and the axis it resizes:
# position embeddings along the tokens, relative-position tables along the
# offsets. Every other axis (the width, the heads) must match.
RESIZED_ON_LOAD = {
    'pos_embed': 1,
    'absolute_pos_embed': 1,
    'relative_position_bias_table': 0,
}


class WeightFill(NamedTuple):
    """How a checkpoint fills a module's parameters (names without the
    checkpoint's prefix)."""
    filled: List[str]
    missing: List[str]
    mismatched: List[str]  # 'name: checkpoint (...) vs <module> (...)'
    allowed: List[str]  # missing or mismatched, but allowed to stay random
    filled_values: int  # parameter values the filled tensors cover
    total_values: int  # all parameter values of the module

    @property
    def total(self) -> int:
        """Number of parameter tensors."""
        return (len(self.filled) + len(self.missing) + len(self.mismatched) +
                len(self.allowed))

    @property
    def share(self) -> float:
        """Fraction of the parameter values filled, in [0, 1]."""
        return self.filled_values / max(self.total_values, 1)

    def describe_share(self) -> str:
        """``'31 of 33 parameter tensors (97.3 % of the 1.2 M values)'``."""
        return (f'{len(self.filled)} of {self.total} parameter tensors '
                f'({100 * self.share:.1f} % of the '
                f'{_values(self.total_values)} values)')


def _values(count: int) -> str:
    return f'{count / 1e6:.2f} M' if count >= 10**5 else f'{count:,}'


def shapes_fit(name: str, source: torch.Size, target: torch.Size) -> bool:
    """Whether a checkpoint tensor of shape ``source`` can fill ``name``."""
    if source == target:
        return True
    axis = RESIZED_ON_LOAD.get(name.rsplit('.', 1)[-1])
    if axis is None or len(source) != len(target):
        return False
    return all(a == b for i, (a, b) in enumerate(zip(source, target))
               if i != axis)


def weight_fill(module: nn.Module,
                state: Dict[str, torch.Tensor],
                prefix: str = '',
                allow_random: Sequence[str] = (),
                what: str = 'model') -> WeightFill:
    """Compare a module's parameters with the tensors under ``prefix``.

    Buffers are not compared: a checkpoint that holds only buffers (index
    tables, for example) fills nothing. A tensor that differs from its
    parameter only along the axis MMPretrain resizes on load fills it.

    Args:
        module (nn.Module): The module to fill.
        state (dict): The checkpoint's state dict.
        prefix (str): Prefix of the module's keys in ``state``, e.g.
            ``'backbone.'``; ``''`` for a whole model.
        allow_random (Sequence[str]): ``fnmatch`` patterns of parameter names
            that may be missing or of another shape.
        what (str): The module's name in the mismatch descriptions.

    Returns:
        WeightFill: Filled, missing, mismatched and allowed parameters, and
        the parameter values filled.
    """
    found = {
        key[len(prefix):]: value
        for key, value in state.items() if key.startswith(prefix)
    }
    lists: Dict[str, List[str]] = dict(filled=[], missing=[], mismatched=[],
                                       allowed=[])
    filled_values = total_values = 0
    for name, param in module.named_parameters():
        total_values += param.numel()
        source = found.get(name)
        shape = getattr(source, 'shape', None)
        if shape is not None and shapes_fit(name, shape, param.shape):
            lists['filled'].append(name)
            filled_values += param.numel()
        elif any(fnmatch(name, pattern) for pattern in allow_random):
            lists['allowed'].append(name)
        elif source is None:
            lists['missing'].append(name)
        else:
            lists['mismatched'].append(
                f'{name}: checkpoint {tuple(shape or ())} vs {what} '
                f'{tuple(param.shape)}')
    return WeightFill(**lists, filled_values=filled_values,
                      total_values=total_values)


def some(items: List[str], count: int = 5) -> str:
    """The first ``count`` items, and how many more there are."""
    more = f' and {len(items) - count} more' if len(items) > count else ''
    return ', '.join(items[:count]) + more
