"""The process's random generators, saved and restored."""
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch


def rng_state() -> dict:
    """This process's random generators, as tensors and builtins (so that
    the checkpoint loads with ``weights_only=True``)."""
    version, python, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(version=version, state=torch.tensor(python),
                    gauss=gauss),
        numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=pos,
                   has_gauss=has_gauss, cached=cached),
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` saved."""
    python = state['python']
    random.setstate((python['version'], tuple(python['state'].tolist()),
                     python['gauss']))
    numpy = state['numpy']
    np.random.set_state(('MT19937', numpy['keys'].numpy().astype(np.uint32),
                         numpy['pos'], numpy['has_gauss'], numpy['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@contextmanager
def generators_untouched() -> Iterator[None]:
    """Whatever the block draws, Python's, NumPy's and torch's generators
    leave it as they entered (an evaluation must not change the training's
    random numbers)."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
