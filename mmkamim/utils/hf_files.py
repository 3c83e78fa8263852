"""Hugging Face model files: read a state dict (``.pth``, ``.safetensors``
or a ``from_pretrained`` folder), and write our SimMIM/KAMIM checkpoints as
a folder that transformers' ``from_pretrained`` loads.

Writing needs transformers and safetensors (``pip install
"mmkamim[hf]"``); reading a ``.pth`` needs neither.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import torch

from .hf_simmim import ConversionError, load_hf_state_dict

# The weights file of a from_pretrained folder, by preference.
WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
# The transformers class of each family's export.
HF_CLASSES = {
    'vit': 'ViTForMaskedImageModeling',
    'swin': 'SwinForMaskedImageModeling',
    'mae': 'ViTMAEForPreTraining',
    'swin-cls': 'SwinForImageClassification',
}


def read_hf_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor],
                                           Optional[dict]]:
    """A Hugging Face model's state dict, and its ``config.json`` if the
    path is a ``from_pretrained`` folder.

    Args:
        path (str): A ``torch.save`` file (bare or ``{'model_state_dict':
            ...}``), a ``.safetensors`` file, or a folder holding
            ``config.json`` and ``model.safetensors`` (or
            ``pytorch_model.bin``).

    Returns:
        tuple[dict, dict | None]: The state dict, and the folder's config.
    """
    config = None
    if osp.isdir(path):
        found = [name for name in WEIGHT_FILES
                 if osp.isfile(osp.join(path, name))]
        if not found:
            raise ConversionError(
                f'{path} is a folder without {" or ".join(WEIGHT_FILES)}: '
                'not a model saved by from_pretrained / save_pretrained')
        if osp.isfile(osp.join(path, 'config.json')):
            with open(osp.join(path, 'config.json')) as f:
                config = json.load(f)
        path = osp.join(path, found[0])
    if not osp.isfile(path):
        raise ConversionError(f'{path} does not exist')
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
        except ImportError as error:
            raise ConversionError(
                f'{path} is a safetensors file: install safetensors (pip '
                'install "mmkamim[hf]")') from error
        try:
            return dict(load_file(path)), config
        except Exception as error:
            raise ConversionError(
                f'{path} cannot be read as safetensors ({error})') from error
    return load_hf_state_dict(path), config


def hf_layer_norm_eps(config: Optional[dict]) -> Optional[float]:
    """The LayerNorm epsilon a folder's ``config.json`` gives, if any."""
    if config and 'layer_norm_eps' in config:
        return float(config['layer_norm_eps'])
    return None


def hf_config(family: str, settings: dict):
    """A transformers ``ViTConfig``, ``SwinConfig`` or ``ViTMAEConfig``
    with every setting that changes the model's outputs."""
    import transformers
    if family in ('vit', 'mae'):
        encoder = dict(
            hidden_size=settings['embed_dims'],
            num_hidden_layers=settings['num_layers'],
            num_attention_heads=settings['num_heads'],
            intermediate_size=settings['ffn'],
            hidden_act='gelu',
            layer_norm_eps=settings['eps'],
            image_size=settings['img_size'],
            patch_size=settings['patch_size'],
            num_channels=3,
            qkv_bias=settings['qkv_bias'])
        if family == 'vit':
            return transformers.ViTConfig(
                **encoder, encoder_stride=settings['encoder_stride'])
        return transformers.ViTMAEConfig(
            **encoder,
            decoder_hidden_size=settings['decoder_embed_dims'],
            decoder_num_hidden_layers=settings['decoder_num_layers'],
            decoder_num_attention_heads=settings['decoder_num_heads'],
            decoder_intermediate_size=settings['decoder_ffn'],
            mask_ratio=settings['mask_ratio'],
            norm_pix_loss=settings['norm_pix'])
    extra = ({} if family == 'swin-cls' else
             dict(encoder_stride=settings['encoder_stride']))
    if 'num_labels' in settings:
        extra['num_labels'] = settings['num_labels']
    return transformers.SwinConfig(
        **extra,
        image_size=settings['img_size'],
        patch_size=settings['patch_size'],
        num_channels=3,
        embed_dim=settings['embed_dims'],
        depths=list(settings['depths']),
        num_heads=list(settings['num_heads']),
        window_size=settings['window_size'],
        mlp_ratio=settings['mlp_ratio'],
        qkv_bias=settings['qkv_bias'],
        hidden_act='gelu',
        use_absolute_embeddings=False,
        layer_norm_eps=settings['eps'])


def write_hf_folder(out_dir: str, family: str, settings: dict,
                    state: Dict[str, torch.Tensor],
                    image_processor: bool = False) -> str:
    """Write ``config.json`` and ``model.safetensors`` for the family's
    transformers class (:data:`HF_CLASSES`).

    The transformers model is built from the config and must take every
    tensor (``strict``); the buffers Hugging Face computes itself (Swin's
    relative position indices) are its own. With ``image_processor`` a
    ``preprocessor_config.json`` for ``ViTImageProcessor`` (resize to the
    model's size, ImageNet mean and std, as our configs normalise) is
    written too.

    Returns:
        str: The transformers class written.
    """
    try:
        import transformers
    except ImportError as error:
        raise ConversionError(
            'writing a Hugging Face model needs transformers: pip install '
            '"mmkamim[hf]"') from error
    config = hf_config(family, settings)
    name = HF_CLASSES[family]
    model = getattr(transformers, name)(config)
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state)
                     if not k.endswith('relative_position_index'))
    shapes = [f'{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}'
              for k, v in state.items() if k in own and v.shape != own[k]
              .shape]
    if unknown or missing or shapes:
        raise ConversionError(
            f'the weights do not fill {name}: missing {missing[:5]}, not '
            f'its {unknown[:5]}, other shapes {shapes[:5]}')
    model.load_state_dict({**own, **state}, strict=True)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    if image_processor:
        transformers.ViTImageProcessor(
            do_resize=True,
            size=dict(height=settings['img_size'],
                      width=settings['img_size']),
            image_mean=[0.485, 0.456, 0.406],
            image_std=[0.229, 0.224, 0.225]).save_pretrained(out_dir)
    return name
