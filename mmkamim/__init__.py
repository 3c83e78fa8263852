"""mmkamim: Keypoint-Aware Masked Image Modelling for MMPretrain.

Importing the package registers every component in MMPretrain's registries.
"""
from .datasets import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .evaluation import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
from .version import __version__

__all__ = ['__version__']
