"""mmkamim's models in MMPretrain's model API: ``mmpretrain.list_models``
lists them, ``get_model`` builds them, and :func:`get_model` loads the
authors' released files (or ours) in one line."""
import copy
import logging
import os.path as osp
import warnings
from typing import Dict, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmpretrain import get_model as mmpretrain_get_model
from mmpretrain.apis.model import ModelHub

from mmkamim.utils.checkpoint_files import check_checkpoint_file
from mmkamim.utils.errors import UsageError
from mmkamim.utils.hf_files import hf_layer_norm_eps, read_hf_checkpoint
from mmkamim.utils.hf_simmim import (
    HF_LAYER_NORM_EPS,
    ConversionError,
    convert,
    detect_family,
)
from mmkamim.utils.project_dirs import project_dir
from mmkamim.utils.weight_fill import weight_fill

# Names registered by register_models (lowercased, as ModelHub keys them).
OUR_MODELS: Dict[str, str] = {}

# MMPretrain's own registration, which ``install`` wraps.
_register_mmpretrain = ModelHub._register_mmpretrain_models.__func__


def register_models() -> None:
    """Register mmkamim's metafiles with MMPretrain's ``ModelHub``.

    MMPretrain refuses a name registered before, so its index is registered
    first, then ours, model by model: a name MMPretrain already has is left
    to MMPretrain with a warning naming it, and the call goes on. The
    configs are found where the checkout or the wheel keeps them
    (``project_dir``). Once registered, a call changes nothing.
    """
    _register_mmpretrain(ModelHub)
    if OUR_MODELS:
        return
    from modelindex.load_model_index import load
    root = osp.dirname(project_dir('configs'))
    index = load(osp.join(root, 'model-index.yml'))
    index.build_models_with_collections()
    for metainfo in index.models:
        name = metainfo.name.lower()
        known = ModelHub._models_dict.get(name)
        if known is not None:
            warnings.warn(
                f'mmkamim model {metainfo.name} is not registered in '
                f'MMPretrain\'s model API: {known.filepath} has a model '
                'of that name. Use its config file instead: '
                f'{ModelHub._expand_config_path(metainfo, root)}',
                stacklevel=2)
            continue
        metainfo.config = ModelHub._expand_config_path(metainfo, root)
        ModelHub._models_dict[name] = metainfo
        OUR_MODELS[name] = metainfo.filepath


def install() -> None:
    """Make MMPretrain's model API register mmkamim's models with its own.

    MMPretrain parses its metafiles at the first ``list_models``,
    ``get_model`` or ``ModelHub.get`` (about 1 s), not at import; ours are
    parsed at the same moment, right after, so importing mmkamim costs
    nothing here.
    """
    ModelHub._register_mmpretrain_models = classmethod(
        lambda cls: register_models())


def _pretraining_state(path: str, arch: str) -> tuple:
    """The tensors of a pre-training file in our names, and the LayerNorm
    epsilon it was trained with (None: the config's).

    Reads our checkpoints and the authors' Hugging Face files (``.pth``,
    ``.safetensors``, a ``from_pretrained`` folder), converted in memory; a
    Hugging Face file of another architecture than ``arch`` is refused.
    """
    if osp.isdir(path) or path.endswith('.safetensors'):
        theirs, config = read_hf_checkpoint(path)
    else:
        try:
            check_checkpoint_file(path)
        except ValueError as error:
            raise UsageError(str(error)) from error
        saved = torch.load(path, map_location='cpu', weights_only=True)
        if isinstance(saved, dict) and 'state_dict' in saved:
            meta = saved.get('meta') or {}
            return saved['state_dict'], meta.get('hf_layer_norm_eps')
        theirs, config = read_hf_checkpoint(path)
    state, meta = convert(theirs)
    if meta['arch'] != arch:
        raise UsageError(
            f'{path} holds a {meta["arch"]} (its weights\' shapes), not the '
            f'{arch} this model is: pick the model of that architecture, or '
            'the file of this one')
    eps = hf_layer_norm_eps(config)
    return state, eps if eps is not None else HF_LAYER_NORM_EPS[
        detect_family(theirs)]


def get_model(model: Union[str, Config],
              pretrained: Union[str, bool] = False,
              device=None,
              **kwargs):
    """MMPretrain's ``get_model``, which also loads the KAMIM authors'
    released files into our models.

    For a model of mmkamim's index (``mmpretrain.list_models('*kamim*')``,
    ``'*simmim*'``, ``'*pixmim*'``):

    - ``pretrained=True`` stops with one line saying where to download the
      released file and how to pass it (the authors keep their weights on
      Google Drive pages, which cannot be downloaded by URL; MMPretrain's
      own ``get_model`` only warns and returns random weights);
    - ``pretrained=PATH`` takes one of the authors' files for that model
      (Hugging Face ``.pth``, ``.safetensors`` or folder: converted in
      memory, with Hugging Face's LayerNorm epsilon) or one of our
      pre-training checkpoints. A pre-training model loads all of it; a
      probe or fine-tune model (a ``Downstream`` entry) fills its backbone
      from it, and every backbone parameter must be filled; its head keeps
      its initial weights.

    Any other model goes to MMPretrain's ``get_model`` unchanged.

    Args:
        model (str | Config): A model name, a config file or a config.
        pretrained (bool | str): True, or a file, as above.
        device (str | torch.device, optional): Where to put the model.
        **kwargs: Changes to the model config, as MMPretrain takes them.

    Returns:
        mmengine.model.BaseModel: The model, in eval mode.
    """
    register_models()
    name = model.lower() if isinstance(model, str) else None
    if name not in OUR_MODELS:
        return mmpretrain_get_model(model, pretrained, device=device,
                                    **kwargs)
    metainfo = ModelHub.get(name)
    upstream = metainfo.data.get('Pretrained From')
    source = ModelHub.get(upstream) if upstream else metainfo
    if pretrained is True:
        download = source.data.get('Download')
        if download is None:
            raise UsageError(
                f'{metainfo.name} has no released weights: pass a checkpoint '
                f'of yours, get_model({metainfo.name!r}, pretrained=PATH)')
        raise UsageError(
            f'{metainfo.name}: the authors\' weights ({source.name}) are on '
            f'a Google Drive page, which cannot be downloaded by URL. '
            f'Download {download} by hand, then pass the file: '
            f'get_model({metainfo.name!r}, pretrained=PATH) (the Hugging '
            'Face file as downloaded; it is converted on the fly)')
    config = copy.deepcopy(metainfo.config)
    state = eps = None
    if pretrained:
        arch = source.data.get('Converter Arch')
        try:
            state, eps = _pretraining_state(str(pretrained), arch)
        except ConversionError as error:
            raise UsageError(str(error)) from error
        if eps is not None:
            backbone = config.model.backbone
            backbone.norm_cfg = dict(backbone.get('norm_cfg') or
                                     dict(type='LN'), eps=eps)
    if 'init_cfg' in config.model.get('backbone', {}):
        config.model.backbone.init_cfg = None
    built = mmpretrain_get_model(config, False, device=None, **kwargs)
    built._metainfo = metainfo
    if state is not None:
        _load(built, state, upstream is not None, str(pretrained))
    if device is not None:
        built.to(device)
    return built.eval()


def _load(model, state: dict, backbone_only: bool, path: str) -> None:
    """Load a pre-training state dict into a model, refusing one that does
    not fill it."""
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    if not backbone_only:
        own = {k for k in model.state_dict()
               if not k.startswith('data_preprocessor.')}
        missing = sorted(own - set(state))
        if missing:
            raise UsageError(f'{path} does not fill the model: '
                             f'{len(missing)} tensors missing, e.g. '
                             f'{missing[:3]}')
        model.load_state_dict({k: v for k, v in state.items() if k in own},
                              strict=False)
        return
    fill = weight_fill(model.backbone, state, 'backbone.', what='backbone')
    if fill.missing or fill.mismatched:
        raise UsageError(
            f'{path} does not fill the {type(model.backbone).__name__} '
            f'backbone: {len(fill.missing)} parameters missing '
            f'{fill.missing[:3]}, {len(fill.mismatched)} of another shape '
            f'{fill.mismatched[:3]}')
    backbone = {k[len('backbone.'):]: v for k, v in state.items()
                if k.startswith('backbone.')}
    model.backbone.load_state_dict(backbone, strict=False)
    print_log(f'{path} fills the backbone ({fill.describe_share()}); the '
              'head keeps its initial weights', logger='current',
              level=logging.INFO)
