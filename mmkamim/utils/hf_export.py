"""Export our SimMIM, KAMIM and MAE-family pre-training checkpoints, and
our Swin fine-tunes, to Hugging Face."""
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch import nn

from .checkpoint_files import apply_checkpoint_norm_eps, check_checkpoint_file
from .hf_files import write_hf_folder
from .hf_simmim import ConversionError, to_hugging_face
from .project_dirs import project_dir

# Shipped configs of the architectures the released-checkpoint converter
# knows, for a converted checkpoint (which stores no config).
CONVERTED_CONFIGS = {
    'vit-tiny': 'simmim_vit-tiny_8xb256_in1k.py',
    'vit-small': 'simmim_vit-small_8xb256_in1k.py',
    'vit-base': 'simmim_vit-base_8xb256_in1k.py',
    'swin-tiny': 'simmim_swin-tiny-w6_8xb256_in1k.py',
    'swin-base': 'simmim_swin-base-w6_8xb256_in1k.py',
}
# Why a model of ours has no Hugging Face form (or none here yet).
NO_HF_FORM = {
    'LinearProbeViT': 'a ViT probe reads a block before the final '
    'LayerNorm (the 8th of 12), which no transformers model reads',
    'LinearProbeSwin': "a Swin probe reads the last stage before Swin's "
    'final LayerNorm, which SwinForImageClassification applies',
    'LayerNormNeck': 'a -ln probe normalises the tokens with LayerNormNeck, '
    'which no transformers model has',
    'VisionTransformer': 'our ViT fine-tune pools the patch tokens, where '
    'ViTForImageClassification reads the class token',
}


def _clean(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our model's tensors: without DDP's ``module.``, compile's
    ``_orig_mod.`` and the data preprocessor's buffers."""
    out = {}
    for key, value in state.items():
        parts = [p for p in key.split('.') if p not in ('module',
                                                         '_orig_mod')]
        key = '.'.join(parts)
        if not key.startswith('data_preprocessor.'):
            out[key] = value
    return out


def _single_eps(*modules: nn.Module) -> float:
    """The one LayerNorm epsilon of ``modules`` (Hugging Face configs have
    one)."""
    norms = {m.eps for module in modules for m in module.modules()
             if isinstance(m, nn.LayerNorm)}
    if len(norms) != 1:
        raise ConversionError(f'the LayerNorms use several epsilons {norms}; '
                              'Hugging Face configs have one')
    return norms.pop()


def _vit_settings(backbone: nn.Module) -> dict:
    """A ViT encoder's Hugging Face settings (a class token, a final
    LayerNorm and no pre-norm, as transformers' ViTs have)."""
    first = backbone.layers[0]
    if not (backbone.with_cls_token and backbone.final_norm) or \
            not isinstance(getattr(backbone, 'pre_norm', nn.Identity()),
                           nn.Identity):
        raise ConversionError(
            'no Hugging Face form: transformers\' ViTs have a class token '
            'and a final LayerNorm and no pre-norm')
    patch = backbone.patch_embed.projection.kernel_size[0]
    return dict(embed_dims=backbone.embed_dims,
                num_layers=backbone.num_layers,
                num_heads=first.attn.num_heads,
                ffn=first.ffn.layers[0][0].out_features,
                img_size=backbone.patch_resolution[0] * patch,
                patch_size=patch, qkv_bias=first.attn.qkv.bias is not None)


def _mae_settings(model: nn.Module) -> dict:
    """The Hugging Face settings of a built MAE-family model (MAE, KA-MAE,
    PixMIM, KA-PixMIM)."""
    neck = model.neck
    if type(neck).__name__ != 'MAEPretrainDecoder':
        raise ConversionError(f'no Hugging Face form: the neck '
                              f'{type(neck).__name__} is not MAE\'s '
                              'decoder')
    block = neck.decoder_blocks[0]
    return dict(
        _vit_settings(model.backbone),
        eps=_single_eps(model.backbone, neck),
        mask_ratio=model.backbone.mask_ratio,
        norm_pix=bool(getattr(model.head, 'norm_pix', False)),
        decoder_embed_dims=neck.decoder_embed.out_features,
        decoder_num_layers=len(neck.decoder_blocks),
        decoder_num_heads=block.attn.num_heads,
        decoder_ffn=block.ffn.layers[0][0].out_features)


def _swin_settings(backbone: nn.Module) -> dict:
    """A Swin encoder's Hugging Face settings."""
    patch = backbone.patch_embed.projection.kernel_size[0]
    blocks = [stage.blocks for stage in backbone.stages]
    attn = blocks[0][0].attn.w_msa
    return dict(
        embed_dims=backbone.embed_dims, patch_size=patch,
        depths=[len(b) for b in blocks],
        num_heads=[b[0].attn.w_msa.num_heads for b in blocks],
        window_size=attn.window_size[0],
        mlp_ratio=blocks[0][0].ffn.layers[0][0].out_features /
        backbone.embed_dims,
        img_size=backbone.patch_embed.init_out_size[0] * patch,
        qkv_bias=attn.qkv.bias is not None, eps=_single_eps(backbone))


def _swin_classifier_settings(model: nn.Module) -> dict:
    """The Hugging Face settings of our Swin fine-tune: the last stage,
    final-normed, average-pooled, one linear layer, as
    ``SwinForImageClassification`` computes."""
    backbone = model.backbone
    last = len(backbone.stages) - 1
    parts = (type(model.neck).__name__, type(model.head).__name__)
    if tuple(backbone.out_indices) != (last, ) or \
            parts != ('GlobalAveragePooling', 'LinearClsHead') or \
            not hasattr(backbone, f'norm{last}'):
        raise ConversionError(
            'no Hugging Face form: SwinForImageClassification pools the '
            'final-normed last stage into one linear layer; this model reads '
            f'stages {list(backbone.out_indices)} through {parts[0]} and '
            f'{parts[1]}')
    return dict(_swin_settings(backbone),
                num_labels=model.head.fc.out_features)


def _settings(model: nn.Module) -> Tuple[str, dict]:
    """The family and the Hugging Face settings of a built SimMIM,
    MAE-family or Swin fine-tune model."""
    backbone, neck = model.backbone, model.neck
    kind = type(backbone).__name__
    if kind == 'MAEViT':
        return 'mae', _mae_settings(model)
    if kind == 'SwinTransformer':
        return 'swin-cls', _swin_classifier_settings(model)
    if kind not in ('SimMIMViT', 'SimMIMSwinTransformer'):
        why = NO_HF_FORM.get(kind, f'{kind} has no Hugging Face export here')
        raise ConversionError(f'no Hugging Face form: {why}')
    if type(neck).__name__ != 'SimMIMLinearDecoder':
        raise ConversionError(f'no Hugging Face form: the neck '
                              f'{type(neck).__name__} is not SimMIM\'s '
                              'linear decoder')
    stride = dict(encoder_stride=neck.decoder[1].upscale_factor)
    if kind == 'SimMIMViT':
        return 'vit', dict(_vit_settings(backbone), eps=_single_eps(backbone),
                           **stride)
    return 'swin', dict(_swin_settings(backbone), **stride)


def export_to_hugging_face(checkpoint: str, out_dir: str,
                           config: Optional[str] = None,
                           force: bool = False,
                           image_processor: bool = False) -> dict:
    """Write a pre-training checkpoint of ours as a Hugging Face folder
    (``config.json`` and ``model.safetensors``): SimMIM and KAMIM as
    ``ViTForMaskedImageModeling`` / ``SwinForMaskedImageModeling``, MAE,
    KA-MAE, PixMIM and KA-PixMIM as ``ViTMAEForPreTraining``, a Swin
    fine-tune as ``SwinForImageClassification``.

    The model's settings come from ``config`` if given, else from the
    config the checkpoint stores (``meta['cfg']``), else, for a checkpoint
    converted from the authors' release, from the shipped config of its
    architecture; the LayerNorm epsilon a converted checkpoint records is
    applied. The weights must fill that model exactly. Nothing is written
    unless everything fits.

    Returns:
        dict: ``family``, ``settings`` and ``hf_class``.

    Raises:
        ConversionError: No Hugging Face form, an incomplete checkpoint, a
            non-empty ``out_dir`` without ``force``, or an unreadable file.
    """
    if osp.isdir(out_dir) and os.listdir(out_dir) and not force:
        raise ConversionError(f'{out_dir} is not empty: choose an empty '
                              'folder, or pass --force to write over it')
    try:
        check_checkpoint_file(checkpoint)
    except ValueError as error:
        raise ConversionError(str(error)) from error
    saved = torch.load(checkpoint, map_location='cpu', weights_only=True)
    meta = saved.get('meta') or {}
    if config is not None:
        cfg = Config.fromfile(config)
    elif meta.get('cfg'):
        cfg = Config.fromstring(meta['cfg'], '.py')
    elif meta.get('arch') in CONVERTED_CONFIGS:
        cfg = Config.fromfile(osp.join(project_dir('configs'),
                                       CONVERTED_CONFIGS[meta['arch']]))
    else:
        raise ConversionError(
            f'{checkpoint} stores no config: pass --config with the config '
            'it was trained with')
    apply_checkpoint_norm_eps(cfg, checkpoint)
    if 'backbone' in cfg.model and 'init_cfg' in cfg.model.backbone:
        cfg.model.backbone.init_cfg = None
    for key in ('neck', 'head'):
        kind = (cfg.model.get(key) or {}).get('type')
        if kind in NO_HF_FORM:
            raise ConversionError(f'no Hugging Face form: '
                                  f'{NO_HF_FORM[kind]}')
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    family, settings = _settings(model)
    state = _clean(saved.get('state_dict', saved))
    own = {k for k in model.state_dict()
           if not k.startswith('data_preprocessor.')}
    missing = sorted(own - set(state))
    extra = sorted(set(state) - own)
    if extra:
        raise ConversionError(
            f'{checkpoint} holds {len(extra)} tensors its config\'s model '
            f'does not have ({extra[:5]}): is the config the one it was '
            'trained with?')
    if missing:
        raise ConversionError(
            f'{checkpoint} is incomplete: {len(missing)} tensors of the '
            f'model are missing: {missing[:10]}')
    hf_state = to_hugging_face(
        state, family,
        num_layers=settings.get('num_layers'), depths=settings.get('depths'),
        decoder_layers=settings.get('decoder_num_layers'))
    name = write_hf_folder(out_dir, family, settings, hf_state,
                           image_processor)
    return dict(family=family, settings=settings, hf_class=name)
