"""One optimizer step for many linear heads, each as if it trained alone."""
from contextlib import contextmanager
from typing import List, Optional, Union

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn


@OPTIM_WRAPPERS.register_module()
class GridProbeOptimWrapper(OptimWrapper):
    """mmengine's ``OptimWrapper`` for a
    :class:`~mmkamim.models.GridProbeClassifier`: one parameter group per
    head (built by
    :class:`~mmkamim.engine.optimizers.GridProbeOptimWrapperConstructor`),
    gradient clipping per head, and heads that go non-finite frozen.

    ``clip_grad=dict(max_norm=1.0)`` clips each head's gradient to norm 1.0,
    as a separate probe run clips its own (mmengine's wrapper clips all the
    parameters together). A head whose gradient is not finite (after the
    ranks have summed it) gets no step from then on; a head whose step
    leaves a parameter non-finite gets its previous weights back and no
    further step. The model logs how many heads are frozen; the logged
    ``grad_norm`` is the largest finite one of the heads still training.

    Mixed precision: ``dtype='bfloat16'`` runs the forward under bfloat16
    autocast (``tools/train.py --amp``). float16 needs a loss scaler, and one
    scaler for all heads would skip every head's step whenever one head
    overflows; it is refused.

    Args:
        optimizer (Optimizer): The optimizer, one group per head, each with
            its index under ``'grid_head'``.
        dtype (str, optional): ``'bfloat16'`` for autocast; None for float32.
        **kwargs: ``OptimWrapper``'s arguments (``clip_grad``, ...).
    """

    def __init__(self, optimizer, dtype: Optional[Union[str,
                                                         torch.dtype]] = None,
                 **kwargs) -> None:
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ValueError(
                f'GridProbeOptimWrapper trains in float32 or under bfloat16 '
                f'autocast, got dtype={dtype!r}: float16 needs a loss scaler, '
                "and one scaler for all heads would skip every head's step "
                'when one overflows. Use --amp-dtype bfloat16')
        super().__init__(optimizer, **kwargs)
        self.dtype = None if dtype is None else torch.bfloat16
        self.model: Optional[nn.Module] = None
        if any('grid_head' not in g for g in optimizer.param_groups):
            raise ValueError(
                'GridProbeOptimWrapper needs one parameter group per grid '
                "head: set optim_wrapper.constructor="
                "'GridProbeOptimWrapperConstructor'")

    @contextmanager
    def optim_context(self, model: nn.Module):
        """mmengine's context, under bfloat16 autocast when asked."""
        with super().optim_context(model):
            if self.dtype is None:
                yield
                return
            device = next(model.parameters()).device.type
            with torch.autocast(device_type=device, dtype=self.dtype):
                yield

    def step(self, **kwargs) -> None:
        """Clip each head's gradient, step the heads still training, and
        freeze those that go non-finite."""
        model = self.model
        active, norms = [], []
        for group in self.optimizer.param_groups:
            index = group['grid_head']
            params = [p for p in group['params'] if p.grad is not None]
            if not params:
                continue
            if bool(model.diverged[index]):
                _drop_gradients(params)
                continue
            if self.clip_grad_kwargs:
                norm = self.clip_func(params, **self.clip_grad_kwargs)
            else:
                norm = torch.linalg.vector_norm(torch.stack(
                    [torch.linalg.vector_norm(p.grad) for p in params]))
            if norm is not None and not bool(torch.isfinite(norm)):
                model.mark_diverged(index, f'gradient norm {float(norm)}')
                _drop_gradients(params)
                continue
            if norm is not None:
                norms.append(float(norm))
            active.append((index, params))
        if self.clip_grad_kwargs and norms:
            self.message_hub.update_scalar(f'train/{self.grad_name}',
                                           max(norms))
        stepped = [p for _, params in active for p in params]
        before = self._snapshot(stepped)
        self.optimizer.step(**kwargs)
        with torch.no_grad():
            for index, params in active:
                # A parameter's least and greatest values are both finite
                # exactly when all of it is (NaN and inf propagate; sums
                # and squares could overflow first).
                if bool(torch.isfinite(torch.stack(
                        [v for p in params for v in torch.aminmax(p)])).all()):
                    continue
                torch._foreach_copy_(params, [before[id(p)] for p in params])
                model.mark_diverged(index, 'a parameter after its step')

    def _snapshot(self, params: List[nn.Parameter]) -> dict:
        """The parameters' values before the step, in buffers kept from
        step to step."""
        buffers = self.__dict__.setdefault('_before', {})
        for key in set(buffers) - {id(p) for p in params}:
            del buffers[key]
        for p in params:
            if id(p) not in buffers or buffers[id(p)].shape != p.shape:
                buffers[id(p)] = torch.empty_like(p, memory_format=torch.
                                                  preserve_format)
        if params:
            with torch.no_grad():
                torch._foreach_copy_([buffers[id(p)] for p in params],
                                     [p.detach() for p in params])
        return buffers


def _drop_gradients(params: List[nn.Parameter]) -> None:
    """The optimizer skips a parameter without a gradient."""
    for p in params:
        p.grad = None
