"""Convert the KAMIM authors' released checkpoints to mmkamim checkpoints.

The authors released SimMIM and KAMIM pre-training checkpoints as state
dicts of Hugging Face ``ViTForMaskedImageModeling`` and
``SwinForMaskedImageModeling`` (transformers 4.x key names), some bare and
some wrapped as ``{'model_state_dict': ..., 'optim_state_dict': ...}``. This
script maps every key to MMPretrain's names (``backbone.`` for ``SimMIMViT``
or ``SimMIMSwinTransformer``, ``neck.`` for ``SimMIMLinearDecoder``) and
writes an mmengine checkpoint that loads with ``strict=True`` into our
pre-training models and, through ``init_cfg``, into the probe and fine-tune
backbones. Only torch is needed: the layouts below are fixed by the two
libraries, so no model is built.

Two layouts differ beyond names: Hugging Face's ``q``/``k``/``v`` projections
are concatenated into MMPretrain's ``qkv``, and Swin's patch merging, which
Hugging Face concatenates as four (C,) neighbours ``[(0,0), (1,0), (0,1),
(1,1)]`` (row, column offsets) while MMPretrain's ``nn.Unfold`` interleaves
them channel-major (``c * 4 + 2 * row + column``), is reordered. Swin's
relative position tables index the same (2w-1)^2 offsets in both libraries:
the released index buffers are checked against the one MMPretrain builds.

Usage:
    python tools/model_converters/hf_simmim_to_mmkamim.py SRC DST [--arch A]
"""
import argparse
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Tuple

import torch

# Architectures our configs build, by what the weights' shapes show. ViT
# heads are not visible in any shape; they are the standard ones of each
# width (3, 6, 12), as in the released configs and MMPretrain's archs.
VIT_ARCHS = {
    'vit-tiny': dict(embed_dims=192, num_layers=12, ffn=768),
    'vit-small': dict(embed_dims=384, num_layers=12, ffn=1536),
    'vit-base': dict(embed_dims=768, num_layers=12, ffn=3072),
}
SWIN_ARCHS = {
    'swin-tiny': dict(embed_dims=96, depths=(2, 2, 6, 2),
                      heads=(3, 6, 12, 24)),
    'swin-small': dict(embed_dims=96, depths=(2, 2, 18, 2),
                       heads=(3, 6, 12, 24)),
    'swin-base': dict(embed_dims=128, depths=(2, 2, 18, 2),
                      heads=(4, 8, 16, 32)),
}
# Hugging Face LayerNorm epsilon of each family; MMPretrain's ViT uses 1e-6.
HF_LAYER_NORM_EPS = {'vit': 1e-12, 'swin': 1e-5}

# Source keys that are dropped on purpose, each with the reason.
DROP_KEYS = [
    # ViTModel's pooler (dense + tanh on the class token) exists only when a
    # checkpoint was saved from a ViTModel with add_pooling_layer=True; no
    # SimMIM, probe or fine-tune path of the released code or ours reads it.
    r'vit\.pooler\.dense\.(weight|bias)',
]


def load_hf_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a released checkpoint, bare or wrapped with its optimiser.

    Args:
        path (str): A ``torch.save`` file of the Hugging Face model's state
            dict, or of ``{'model_state_dict': ..., 'optim_state_dict':
            ...}``.

    Returns:
        dict[str, torch.Tensor]: The model's state dict.
    """
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path} holds a {type(checkpoint).__name__}, not a '
                        'state dict')
    if 'model_state_dict' in checkpoint:
        checkpoint = checkpoint['model_state_dict']
    not_tensors = [k for k, v in checkpoint.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ValueError(
            f'{path} is neither a state dict nor a {{"model_state_dict": ...}}'
            f' wrapper: {not_tensors[:5]} are not tensors')
    return checkpoint


def detect_family(state: Dict[str, torch.Tensor]) -> str:
    """Return ``'vit'`` or ``'swin'`` from the source keys."""
    if any(k.startswith('vit.layers.') or '.q_proj.' in k for k in state):
        raise ValueError(
            'these are transformers 5 key names (e.g. vit.layers.0.attention'
            '.q_proj.weight); the released checkpoints use the 4.x names. '
            'Load the model in transformers 4.x and save its state_dict.')
    if 'vit.embeddings.cls_token' in state:
        return 'vit'
    if 'swin.embeddings.patch_embeddings.projection.weight' in state:
        return 'swin'
    raise ValueError(
        'not a ViTForMaskedImageModeling or SwinForMaskedImageModeling '
        f'state dict: no vit.embeddings.cls_token or swin.embeddings key '
        f'among {sorted(state)[:5]}...')


def vit_arch(state: Dict[str, torch.Tensor]) -> Tuple[str, dict]:
    """Infer the ViT architecture from the weights' shapes."""
    layers = {int(m.group(1)) for k in state
              if (m := re.match(r'vit\.encoder\.layer\.(\d+)\.', k))}
    found = dict(
        embed_dims=state['vit.embeddings.cls_token'].shape[-1],
        num_layers=len(layers),
        ffn=state['vit.encoder.layer.0.intermediate.dense.weight'].shape[0])
    for name, arch in VIT_ARCHS.items():
        if arch == found:
            return name, found
    raise ValueError(f'no ViT architecture of ours has {found}; known: '
                     f'{VIT_ARCHS}')


def swin_arch(state: Dict[str, torch.Tensor]) -> Tuple[str, dict]:
    """Infer the Swin architecture (and window size) from the shapes."""
    depths, heads = [], []
    stage = 0
    while f'swin.encoder.layers.{stage}.blocks.0.layernorm_before.weight' \
            in state:
        blocks = {int(m.group(1)) for k in state if (m := re.match(
            rf'swin\.encoder\.layers\.{stage}\.blocks\.(\d+)\.', k))}
        depths.append(len(blocks))
        table = state[f'swin.encoder.layers.{stage}.blocks.0.attention.self.'
                      'relative_position_bias_table']
        heads.append(table.shape[1])
        stage += 1
    found = dict(
        embed_dims=state['swin.embeddings.patch_embeddings.projection.weight']
        .shape[0],
        depths=tuple(depths),
        heads=tuple(heads))
    for name, arch in SWIN_ARCHS.items():
        if arch == found:
            table = state['swin.encoder.layers.0.blocks.0.attention.self.'
                          'relative_position_bias_table']
            window = (int(round(table.shape[0]**0.5)) + 1) // 2
            return name, dict(found, window_size=window)
    raise ValueError(f'no Swin architecture of ours has {found}; known: '
                     f'{SWIN_ARCHS}')


def concat_qkv(state: Dict[str, torch.Tensor], prefix: str,
               used: set) -> Dict[str, torch.Tensor]:
    """Concatenate ``{prefix}{query,key,value}.{weight,bias}`` as ``qkv``."""
    out = {}
    for kind in ('weight', 'bias'):
        names = [f'{prefix}{part}.{kind}' for part in ('query', 'key',
                                                       'value')]
        used.update(names)
        out[kind] = torch.cat([state[name] for name in names], dim=0)
    return out


def merge_order(weight: torch.Tensor) -> torch.Tensor:
    """Reorder Swin patch-merging inputs from Hugging Face's to MMPretrain's.

    Args:
        weight (torch.Tensor): (..., 4C) along the merged-channel axis in
            Hugging Face's order, neighbour-major.

    Returns:
        torch.Tensor: The same values in ``nn.Unfold``'s channel-major order.
    """
    *lead, merged = weight.shape
    channels = merged // 4
    # Hugging Face's neighbour p sits at (row, col) = (0,0), (1,0), (0,1),
    # (1,1); nn.Unfold's kernel position k = 2 * row + col needs p = 0,2,1,3.
    by_neighbour = weight.reshape(*lead, 4, channels)[..., [0, 2, 1, 3], :]
    return by_neighbour.transpose(-1, -2).reshape(*lead, merged)


def relative_position_index(window: int) -> torch.Tensor:
    """(w^2, w^2) index into the (2w-1)^2 relative-position table."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(window), torch.arange(window),
                       indexing='ij')).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]) + window - 1
    return offsets[0] * (2 * window - 1) + offsets[1]


def rename(state: Dict[str, torch.Tensor], used: set,
           pairs: List[Tuple[str, str]],
           transform: Optional[Callable] = None) -> Dict[str, torch.Tensor]:
    """Copy ``src.{weight,bias}`` (those present) to ``dst.{...}``."""
    out = {}
    for src, dst in pairs:
        for kind in ('weight', 'bias'):
            if f'{src}.{kind}' in state:
                used.add(f'{src}.{kind}')
                value = state[f'{src}.{kind}']
                out[f'{dst}.{kind}'] = transform(value) if transform else value
    return out


def convert_vit(state: Dict[str, torch.Tensor], used: set,
                arch: dict) -> Dict[str, torch.Tensor]:
    """Map a ``ViTForMaskedImageModeling`` state dict to SimMIMViT + neck."""
    out = OrderedDict()
    for src, dst in (('cls_token', 'cls_token'), ('mask_token', 'mask_token'),
                     ('position_embeddings', 'pos_embed')):
        used.add(f'vit.embeddings.{src}')
        out[f'backbone.{dst}'] = state[f'vit.embeddings.{src}']
    out.update(rename(state, used, [
        ('vit.embeddings.patch_embeddings.projection',
         'backbone.patch_embed.projection')]))
    for i in range(arch['num_layers']):
        src, dst = f'vit.encoder.layer.{i}.', f'backbone.layers.{i}.'
        out.update(
            rename(state, used, [(src + 'layernorm_before', dst + 'ln1')]))
        qkv = concat_qkv(state, src + 'attention.attention.', used)
        out[dst + 'attn.qkv.weight'] = qkv['weight']
        out[dst + 'attn.qkv.bias'] = qkv['bias']
        out.update(rename(state, used, [
            (src + 'attention.output.dense', dst + 'attn.proj'),
            (src + 'layernorm_after', dst + 'ln2'),
            (src + 'intermediate.dense', dst + 'ffn.layers.0.0'),
            (src + 'output.dense', dst + 'ffn.layers.1'),
        ]))
    out.update(rename(state, used, [('vit.layernorm', 'backbone.ln1'),
                                    ('decoder.0', 'neck.decoder.0')]))
    return out


def convert_swin(state: Dict[str, torch.Tensor], used: set,
                 arch: dict) -> Dict[str, torch.Tensor]:
    """Map a ``SwinForMaskedImageModeling`` state dict to SimMIMSwin + neck."""
    if 'swin.embeddings.position_embeddings' in state:
        raise ValueError(
            'swin.embeddings.position_embeddings: absolute position '
            'embeddings (use_absolute_embeddings=True) are not used by the '
            'released models or our Swin configs')
    out = OrderedDict()
    used.add('swin.embeddings.mask_token')
    out['backbone.mask_token'] = state['swin.embeddings.mask_token']
    out.update(rename(state, used, [
        ('swin.embeddings.patch_embeddings.projection',
         'backbone.patch_embed.projection'),
        ('swin.embeddings.norm', 'backbone.patch_embed.norm'),
    ]))
    window = arch['window_size']
    index = relative_position_index(window)
    for stage, depth in enumerate(arch['depths']):
        for block in range(depth):
            src = f'swin.encoder.layers.{stage}.blocks.{block}.'
            dst = f'backbone.stages.{stage}.blocks.{block}.'
            out.update(rename(state, used, [(src + 'layernorm_before',
                                             dst + 'norm1')]))
            attn = src + 'attention.self.'
            table = attn + 'relative_position_bias_table'
            used.add(table)
            out[dst + 'attn.w_msa.relative_position_bias_table'] = state[table]
            # A buffer: the released file may or may not hold it. Where it
            # does, it must be the standard index our table layout assumes.
            if attn + 'relative_position_index' in state:
                used.add(attn + 'relative_position_index')
                if not torch.equal(state[attn + 'relative_position_index'],
                                   index):
                    raise ValueError(
                        f'{attn}relative_position_index is not the standard '
                        f'{window}x{window}-window index: the bias table '
                        'cannot be mapped')
            out[dst + 'attn.w_msa.relative_position_index'] = index.clone()
            qkv = concat_qkv(state, attn, used)
            out[dst + 'attn.w_msa.qkv.weight'] = qkv['weight']
            out[dst + 'attn.w_msa.qkv.bias'] = qkv['bias']
            out.update(rename(state, used, [
                (src + 'attention.output.dense', dst + 'attn.w_msa.proj'),
                (src + 'layernorm_after', dst + 'norm2'),
                (src + 'intermediate.dense', dst + 'ffn.layers.0.0'),
                (src + 'output.dense', dst + 'ffn.layers.1'),
            ]))
        if stage < len(arch['depths']) - 1:
            src = f'swin.encoder.layers.{stage}.downsample.'
            dst = f'backbone.stages.{stage}.downsample.'
            out.update(rename(state, used, [(src + 'norm', dst + 'norm'),
                                            (src + 'reduction',
                                             dst + 'reduction')],
                              transform=merge_order))
    last = len(arch['depths']) - 1
    out.update(rename(state, used, [('swin.layernorm', f'backbone.norm{last}'),
                                    ('decoder.0', 'neck.decoder.0')]))
    return out


def convert(state: Dict[str, torch.Tensor],
            arch: Optional[str] = None) -> Tuple[Dict[str, torch.Tensor],
                                                 dict]:
    """Convert a released state dict to mmkamim's pre-training model keys.

    Args:
        state (dict): Hugging Face 4.x state dict.
        arch (str, optional): Expected architecture (``vit-tiny``,
            ``vit-small``, ``vit-base``, ``swin-tiny``, ``swin-small``,
            ``swin-base``); it must agree with the shapes. None infers it.

    Returns:
        tuple[dict, dict]: The ``backbone.``/``neck.`` state dict, and the
        metadata (architecture, family, Hugging Face LayerNorm epsilon).
    """
    family = detect_family(state)
    used = set()
    if family == 'vit':
        name, found = vit_arch(state)
        converted = convert_vit(state, used, found)
    else:
        name, found = swin_arch(state)
        converted = convert_swin(state, used, found)
    if arch is not None and arch != name:
        raise ValueError(f'--arch {arch} does not fit the checkpoint, whose '
                         f'shapes are those of {name}: {found}')
    dropped = {k for k in state if any(re.fullmatch(p, k) for p in DROP_KEYS)}
    unknown = sorted(set(state) - used - dropped)
    if unknown:
        raise KeyError(f'{len(unknown)} keys are neither mapped nor on the '
                       f'drop list, e.g. {unknown[:5]}')
    meta = dict(arch=name, family=family,
                hf_layer_norm_eps=HF_LAYER_NORM_EPS[family],
                dropped_keys=sorted(dropped))
    if family == 'swin':
        meta['window_size'] = found['window_size']
    return converted, meta


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Convert a released KAMIM/SimMIM checkpoint (Hugging '
        'Face ViT/SwinForMaskedImageModeling, transformers 4.x) to an '
        'mmkamim checkpoint.')
    parser.add_argument('src', help='released checkpoint (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument(
        '--arch', choices=sorted({**VIT_ARCHS, **SWIN_ARCHS}),
        help='expected architecture; inferred from the shapes by default')
    args = parser.parse_args()

    converted, meta = convert(load_hf_state_dict(args.src), args.arch)
    meta.update(source=osp.basename(args.src),
                converter='hf_simmim_to_mmkamim')
    torch.save(dict(meta=meta, state_dict=converted), args.dst)
    print(f'{args.src}: {meta["arch"]}, {len(converted)} tensors -> '
          f'{args.dst}')
    if meta['dropped_keys']:
        print(f'dropped on purpose: {meta["dropped_keys"]}')
    if meta['family'] == 'vit':
        print('Hugging Face ViTs use LayerNorm eps 1e-12 (MMPretrain: 1e-6). '
              'Pass it when you pre-train, probe or fine-tune this '
              'checkpoint:\n  --cfg-options model.backbone.norm_cfg.eps=1e-12')


if __name__ == '__main__':
    main()
