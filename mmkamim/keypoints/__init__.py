"""KAMIM's keypoint weights: the settings, the keypoint maps and cell
counts in numpy (the ``KeypointDensity`` transform) and FAST, rings and
counts in torch (``KAMIMDataPreprocessor``). Imports neither
:mod:`mmkamim.models` nor :mod:`mmkamim.datasets`, which stand on it."""
from .settings import KeypointSettings

__all__ = ['KeypointSettings']
