"""Keep a whole backbone frozen, for linear probing."""
import torch
from torch import nn


class FrozenBackboneMixin:
    """Mixin for an ``nn.Module`` backbone that must never train.

    Every parameter has ``requires_grad=False``, every submodule stays in
    eval mode even when the runner calls ``model.train()`` (dropout and
    stochastic depth stay off), and the forward pass runs without autograd,
    so a linear probe pays only for the features.

    Put it before the backbone class in the bases and call
    :meth:`freeze_all` at the end of ``__init__``.
    """

    def freeze_all(self: nn.Module) -> None:
        """Stop gradients to every parameter and switch to eval mode."""
        for param in self.parameters():
            param.requires_grad = False
        nn.Module.train(self, False)

    def train(self, mode: bool = True):
        """Ignore ``mode``: a frozen backbone is always in eval mode."""
        return nn.Module.train(self, False)

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return super().forward(*args, **kwargs)
