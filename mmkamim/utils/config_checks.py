"""Settings that make the training loss undefined, refused before training.

Each is named by its config path, with its value and the values allowed:
MMPretrain's ``SimMIMMaskGenerator`` would assert without a word on a mask
patch that does not tile the image, and silently treat a ratio above 1 as
1; a mask ratio of 0 masks nothing and the loss is 0/0.
"""
import inspect
from typing import Iterator, List, Optional, Tuple

from mmpretrain.datasets.transforms import SimMIMMaskGenerator

from mmkamim.keypoints import KeypointSettings

from .errors import UsageError


def _defaults(cls) -> dict:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(
            cls.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


_MASK_DEFAULTS = _defaults(SimMIMMaskGenerator)
_KEYPOINT_DEFAULTS = KeypointSettings().as_dict()


def _pipelines(dataset: dict, path: str) -> Iterator[Tuple[str, list]]:
    """Every ``pipeline`` under a dataset config, dataset wrappers
    included, with its config path."""
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get('pipeline'), list):
        yield f'{path}.pipeline', dataset['pipeline']
    if isinstance(dataset.get('dataset'), dict):
        yield from _pipelines(dataset['dataset'], f'{path}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        yield from _pipelines(inner, f'{path}.datasets.{i}')


def _type_name(transform: dict) -> str:
    kind = transform.get('type', '')
    return kind if isinstance(kind, str) else getattr(kind, '__name__', '')


def _image_size(pipeline: list) -> Optional[int]:
    """The side of the square images the pipeline ends with, if it says."""
    for transform in pipeline:
        if _type_name(transform) == 'SimMIMMaskGenerator':
            return transform.get('input_size', _MASK_DEFAULTS['input_size'])
    for transform in reversed(pipeline):
        if _type_name(transform) in ('RandomResizedCrop', 'Resize',
                                     'CenterCrop', 'RandomCrop'):
            for key in ('scale', 'crop_size', 'size'):
                size = transform.get(key)
                if isinstance(size, int):
                    return size
                if isinstance(size, (list, tuple)) and len(set(size)) == 1:
                    return size[0]
    return None


def training_config_errors(cfg) -> List[str]:
    """What in ``cfg`` makes the pre-training loss undefined.

    Checks every ``SimMIMMaskGenerator`` of the training pipelines (ratio in
    (0, 1]; mask patch size dividing the input size and a multiple of the
    model's patch size), the keypoint cell size ``patch_size`` of
    ``KeypointDensity`` and ``KAMIMDataPreprocessor`` (dividing the input
    size) and their temperature (> 0), and MAE's mask ratio (in (0, 1)).

    Args:
        cfg (Config): A training config.

    Returns:
        List[str]: One message per problem, empty if none.
    """
    errors = []
    loader = cfg.get('train_dataloader') or {}
    size = None
    for path, pipeline in _pipelines(loader.get('dataset') or {},
                                     'train_dataloader.dataset'):
        size = _image_size(pipeline) or size
        for i, transform in enumerate(pipeline):
            if not isinstance(transform, dict):
                continue
            where = f'{path}.{i}'
            kind = _type_name(transform)
            if kind == 'SimMIMMaskGenerator':
                errors += _mask_errors(where, transform)
            elif kind == 'KeypointDensity':
                errors += _keypoint_errors(where, transform,
                                           _image_size(pipeline))
    model = cfg.get('model') or {}
    preprocessor = model.get('data_preprocessor') or {}
    if preprocessor.get('type') == 'KAMIMDataPreprocessor':
        errors += _keypoint_errors('model.data_preprocessor', preprocessor,
                                   size)
    backbone = model.get('backbone') or {}
    ratio = backbone.get('mask_ratio')
    if 'MAE' in str(backbone.get('type', '')) and ratio is not None and \
            not 0 < ratio < 1:
        errors.append(
            f'model.backbone.mask_ratio={ratio!r}: MAE hides this fraction '
            'of the patches and encodes the rest, so it must be in (0, 1)')
    return errors


def _mask_errors(where: str, transform: dict) -> List[str]:
    settings = dict(_MASK_DEFAULTS, **transform)
    ratio = settings['mask_ratio']
    size = settings['input_size']
    patch = settings['mask_patch_size']
    model_patch = settings['model_patch_size']
    errors = []
    if not 0 < ratio <= 1:
        errors.append(
            f'{where}.mask_ratio={ratio!r}: the fraction of mask patches '
            'hidden must be in (0, 1] (0 masks nothing, and the loss is '
            'over masked pixels)')
    if patch <= 0 or size % patch:
        divisors = [d for d in range(model_patch, size + 1, model_patch)
                    if size % d == 0] if model_patch > 0 else []
        errors.append(
            f'{where}.mask_patch_size={patch!r} does not divide '
            f'input_size={size}; allowed: {divisors}')
    elif model_patch <= 0 or patch % model_patch:
        errors.append(
            f'{where}.mask_patch_size={patch!r} is not a multiple of '
            f'model_patch_size={model_patch!r} (the encoder\'s patch)')
    return errors


def _keypoint_errors(where: str, settings: dict,
                     size: Optional[int]) -> List[str]:
    errors = []
    settings = dict(_KEYPOINT_DEFAULTS, **settings)
    cell = settings['patch_size']
    if size is not None and (cell <= 0 or size % cell):
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        errors.append(
            f'{where}.patch_size={cell!r} (the keypoint weight cell, w_ps) '
            f'does not divide the {size} px input; allowed: {divisors}')
    temperature = settings['temperature']
    if not temperature > 0:
        errors.append(f'{where}.temperature={temperature!r}: weights are '
                      'exp(density / T), so T must be > 0')
    return errors


def check_training_config(cfg) -> None:
    """Raise, naming every setting that makes the training loss undefined.

    Raises:
        UsageError: The config has such settings.
    """
    errors = training_config_errors(cfg)
    if errors:
        raise UsageError('the config cannot train:\n  ' +
                         '\n  '.join(errors))
