"""Compile a model's forward with as few graphs as it allows.

MMPretrain's ViTs give each block its stochastic-depth rate as a NumPy scalar
(an element of ``np.linspace``), and mmcv's ``drop_path`` branches on it
(``if drop_prob == 0.``). Dynamo treats a NumPy scalar attribute as a tensor
input, cannot branch on it and breaks the graph there, at each of a
block's two stochastic-depth layers (attention and MLP), also when the rate
is 0. The same number as a Python float is a constant that dynamo
folds, and eager arithmetic with it is the same in double precision.
"""
import numpy as np
from torch import nn


def python_scalars(model: nn.Module) -> int:
    """Replace every NumPy scalar attribute of ``model``'s modules by the
    Python number of the same value.

    Args:
        model (nn.Module): The model, changed in place.

    Returns:
        int: How many attributes were replaced.
    """
    replaced = 0
    for module in model.modules():
        for name, value in vars(module).items():
            if isinstance(value, np.generic):
                setattr(module, name, value.item())
                replaced += 1
    return replaced


def compile_forward(model: nn.Module, **options) -> None:
    """``model.compile(**options)`` after :func:`python_scalars`.

    Args:
        model (nn.Module): The model, compiled in place (its ``__call__``;
            the same module inside a DDP wrapper).
        **options: ``torch.compile`` options.
    """
    python_scalars(model)
    model.compile(**options)
