from .model import get_model, install, register_models

__all__ = ['get_model', 'install', 'register_models']
