"""Adam and AdamW step in torch's fused kernel wherever the running torch has
one for the training device.

torch's own default (``fused=None, foreach=None``) picks the multi-tensor
``foreach`` path on CUDA and a Python loop over the parameters on the CPU;
the fused kernel updates every parameter of a group in one pass (one launch
on a GPU), with the same arithmetic up to float rounding. The training
config decides: a config that sets ``fused`` or ``foreach`` itself is left
as it is, so ``--cfg-options optim_wrapper.optimizer.fused=False`` restores
torch's default.
"""
import copy
from typing import Union

import torch

# Optimizers whose fused kernel takes the same arguments as the loop.
FUSABLE = ('Adam', 'AdamW')


def fused_kernel_available(device: Union[str, torch.device]) -> bool:
    """Whether the running torch has a fused AdamW kernel for ``device``.

    Args:
        device (str or torch.device): The training device.

    Returns:
        bool: True if ``torch.optim.AdamW(..., fused=True)`` steps a float32
        parameter on ``device``.
    """
    parameter = torch.zeros(1, device=device, requires_grad=True)
    parameter.grad = torch.zeros_like(parameter)
    try:
        # torch checks the device at the first step, not at construction.
        torch.optim.AdamW([parameter], fused=True).step()
    except RuntimeError:  # naming the devices it supports
        return False
    return True


def with_fused_adam(optim_wrapper: dict,
                    device: Union[str, torch.device]) -> dict:
    """An optim wrapper config whose Adam(W) steps in the fused kernel.

    Args:
        optim_wrapper (dict): An mmengine optim wrapper config.
        device (str or torch.device): The device the parameters are on.

    Returns:
        dict: A copy with ``optimizer.fused=True`` if the optimizer is Adam
        or AdamW, the config sets neither ``fused`` nor ``foreach``, and
        the running torch has the kernel for ``device``; otherwise
        ``optim_wrapper`` itself.
    """
    optimizer = optim_wrapper.get('optimizer')
    if not isinstance(optimizer, dict):
        return optim_wrapper
    kind = optimizer.get('type')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    if (name.rsplit('.', 1)[-1] not in FUSABLE or 'fused' in optimizer
            or 'foreach' in optimizer or not fused_kernel_available(device)):
        return optim_wrapper
    optim_wrapper = copy.deepcopy(optim_wrapper)
    optim_wrapper['optimizer']['fused'] = True
    return optim_wrapper
