"""mmkamim: Keypoint-Aware Masked Image Modelling for MMPretrain.

Importing the package registers every component in MMPretrain's registries,
and its models in MMPretrain's model API (``mmpretrain.list_models``; they
are read when MMPretrain reads its own).
"""
from .apis import get_model, install
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
from .version import __version__

install()

__all__ = ['__version__', 'get_model']
