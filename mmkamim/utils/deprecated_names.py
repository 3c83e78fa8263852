"""Names of an earlier release that still build a component, with a warning.

MMPretrain registers one name per class; a renamed component keeps its old
registry name for one more release so that existing configs keep working,
and every build through it says which name to use and when the old one goes.
"""
import warnings
from typing import Callable

from mmengine.registry import Registry


def register_deprecated_name(registry: Registry, old: str, cls: type,
                             removed_in: str) -> Callable:
    """Register ``old`` in ``registry`` as a builder of ``cls`` that warns.

    Args:
        registry (Registry): Where ``cls`` is registered under its own name.
        old (str): The earlier name, e.g. ``'KeypointAwareMAE'``.
        cls (type): The component it builds.
        removed_in (str): The release without ``old``, e.g. ``'0.2.0'``.

    Returns:
        callable: The registered builder (keyword arguments of ``cls``).
    """

    def build(**kwargs):
        warnings.warn(
            f"type='{old}' is deprecated and goes in mmkamim {removed_in}: "
            f"use type='{cls.__name__}' (the same class)",
            DeprecationWarning, stacklevel=2)
        return cls(**kwargs)

    build.__name__ = build.__qualname__ = old
    build.__doc__ = f'Deprecated name of :class:`{cls.__name__}`.'
    registry.register_module(name=old, module=build)
    return build
