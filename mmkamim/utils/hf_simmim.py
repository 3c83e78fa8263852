"""Hugging Face <-> mmkamim: the SimMIM and KAMIM pre-training models.

The authors released SimMIM and KAMIM pre-training checkpoints as state
dicts of Hugging Face ``ViTForMaskedImageModeling`` and
``SwinForMaskedImageModeling`` (transformers 4.x key names), some bare and
some wrapped as ``{'model_state_dict': ..., 'optim_state_dict': ...}``.
:func:`convert` maps every key to MMPretrain's names (``backbone.`` for
``SimMIMViT`` or ``SimMIMSwinTransformer``, ``neck.`` for
``SimMIMLinearDecoder``); :func:`to_hugging_face` maps ours back. Both are
exact: a round trip changes no value. Only torch is needed: the layouts
below are fixed by the two libraries, so no model is built.

Two layouts differ beyond names: Hugging Face's ``q``/``k``/``v`` projections
are concatenated into MMPretrain's ``qkv``, and Swin's patch merging, which
Hugging Face concatenates as four (C,) neighbours ``[(0,0), (1,0), (0,1),
(1,1)]`` (row, column offsets) while MMPretrain's ``nn.Unfold`` interleaves
them channel-major (``c * 4 + 2 * row + column``), is reordered. Swin's
relative position tables index the same (2w-1)^2 offsets in both libraries:
the released index buffers are checked against the one MMPretrain builds.
Position embeddings are copied as stored, never regenerated.
"""
import pickle
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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
HF_LAYER_NORM_EPS = {'vit': 1e-12, 'swin': 1e-5, 'mae': 1e-12}

# Keys a released file may lack, or hold, by design; everything else the
# model has must be there, or the conversion stops naming what is missing.
#   Dropped when present: ViTModel's pooler (dense + tanh on the class
#   token) exists only when a checkpoint was saved from a ViTModel with
#   add_pooling_layer=True; no SimMIM, probe or fine-tune path of the
#   released code or ours reads it.
DROP_KEYS = [r'vit\.pooler\.dense\.(weight|bias)']
#   Rebuilt when absent: Swin's relative_position_index is a buffer, saved
#   or not depending on the transformers version; where present it must be
#   the standard index (checked), and ours is built from the window size.
OPTIONAL_KEYS = [
    r'swin\.encoder\.layers\.\d+\.blocks\.\d+\.attention\.self\.'
    r'relative_position_index'
]


class ConversionError(ValueError):
    """A file the converter cannot turn into a complete checkpoint; the
    tool prints the message alone."""


class Source:
    """The released state dict, read key by key: what is read is recorded,
    and a key that is absent is noted instead of failing at once, so that
    one error lists every missing key."""

    def __init__(self, state: Dict[str, torch.Tensor]) -> None:
        self.state = state
        self.used: set = set()
        self.missing: List[str] = []

    def __contains__(self, key: str) -> bool:
        return key in self.state

    def __getitem__(self, key: str) -> Optional[torch.Tensor]:
        if key not in self.state:
            self.missing.append(key)
            return None
        self.used.add(key)
        return self.state[key]


def load_hf_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a released checkpoint, bare or wrapped with its optimiser.

    Args:
        path (str): A ``torch.save`` file of the Hugging Face model's state
            dict, or of ``{'model_state_dict': ..., 'optim_state_dict':
            ...}``.

    Returns:
        dict[str, torch.Tensor]: The model's state dict.
    """
    with open(path, 'rb') as f:
        head = f.read(4)
    # torch.save writes a zip archive (before torch 1.6, a bare pickle).
    if head != b'PK\x03\x04' and head[:1] != b'\x80':
        raise ConversionError(f'{path} is not a PyTorch checkpoint (a file '
                              'written by torch.save)')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        raise ConversionError(
            f'{path} holds Python objects that run code when loaded; only '
            'tensors are read. Re-save its state dict from an environment '
            f'you trust ({str(error).splitlines()[0]})') from error
    except Exception as error:
        raise ConversionError(f'{path} cannot be read ({type(error).__name__}'
                              f': {error}); it may be cut off') from error
    if not isinstance(checkpoint, dict):
        raise ConversionError(f'{path} holds a {type(checkpoint).__name__}, '
                              'not a state dict')
    if 'model_state_dict' in checkpoint:
        checkpoint = checkpoint['model_state_dict']
    not_tensors = [k for k, v in checkpoint.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ConversionError(
            f'{path} is neither a state dict nor a {{"model_state_dict": ...}}'
            f' wrapper: {not_tensors[:5]} are not tensors')
    return checkpoint


def detect_family(state: Dict[str, torch.Tensor]) -> str:
    """Return ``'vit'``, ``'swin'`` or ``'mae'`` from the source keys."""
    if any(k.startswith('vit.layers.') or '.q_proj.' in k for k in state):
        raise ConversionError(
            'these are transformers 5 key names (e.g. vit.layers.0.attention'
            '.q_proj.weight); the released checkpoints use the 4.x names. '
            'Load the model in transformers 4.x and save its state_dict.')
    families = {key.split('.', 1)[0] for key in state} & {'vit', 'swin'}
    if len(families) == 1:
        family = families.pop()
        # ViTMAEForPreTraining: the ViT encoder and MAE's decoder.
        mae = any(k.startswith('decoder.decoder_') for k in state)
        return 'mae' if family == 'vit' and mae else family
    raise ConversionError(
        'not a ViTForMaskedImageModeling or SwinForMaskedImageModeling '
        'state dict: its keys should start with vit. or swin., got '
        f'{sorted(state)[:5]}...')


def first_shape(state: Dict[str, torch.Tensor], pattern: str) -> tuple:
    """The shape of the first key matching ``pattern`` (a missing key is
    reported by the conversion, not by the architecture's detection)."""
    for key in sorted(state):
        if re.fullmatch(pattern, key):
            return tuple(state[key].shape)
    raise ConversionError(
        f'cannot tell the architecture: no key matches {pattern}')


def vit_arch(state: Dict[str, torch.Tensor]) -> Tuple[str, dict]:
    """Infer the ViT architecture from the weights' shapes (the depth from
    the highest block index, so that a file lacking a block is reported by
    its missing tensors)."""
    layers = {int(m.group(1)) for k in state
              if (m := re.match(r'vit\.encoder\.layer\.(\d+)\.', k))}
    found = dict(
        embed_dims=first_shape(
            state, r'vit\.embeddings\.(cls_token|position_embeddings)')[-1],
        num_layers=max(layers, default=-1) + 1,
        ffn=first_shape(
            state, r'vit\.encoder\.layer\.\d+\.intermediate\.dense\.'
            r'(weight|bias)')[0])
    for name, arch in VIT_ARCHS.items():
        if arch == found:
            return name, found
    for name, arch in VIT_ARCHS.items():
        # Blocks missing at the end: the width and the MLP still tell.
        if (arch['embed_dims'], arch['ffn']) == (found['embed_dims'],
                                                 found['ffn']):
            return name, dict(arch)
    raise ConversionError(f'no ViT architecture of ours has {found}; known: '
                          f'{VIT_ARCHS}')


def swin_arch(state: Dict[str, torch.Tensor]) -> Tuple[str, dict]:
    """Infer the Swin architecture (and window size) from the shapes (each
    stage's depth from its highest block index, so that a file lacking a
    block is reported by its missing tensors)."""
    depths, heads = [], []
    stage = 0
    while any(k.startswith(f'swin.encoder.layers.{stage}.blocks.')
              for k in state):
        blocks = {int(m.group(1)) for k in state if (m := re.match(
            rf'swin\.encoder\.layers\.{stage}\.blocks\.(\d+)\.', k))}
        depths.append(max(blocks) + 1)
        heads.append(first_shape(
            state, rf'swin\.encoder\.layers\.{stage}\.blocks\.\d+\.'
            r'attention\.self\.relative_position_bias_table')[1])
        stage += 1
    found = dict(
        embed_dims=first_shape(
            state, r'swin\.embeddings\.(patch_embeddings\.projection|norm)'
            r'\.(weight|bias)')[0],
        depths=tuple(depths),
        heads=tuple(heads))
    # Blocks missing at the end of a stage: the smallest architecture of
    # that width and those heads that holds the blocks found.
    fits = [(sum(arch['depths']), name) for name, arch in SWIN_ARCHS.items()
            if arch == found or (
                (arch['embed_dims'], arch['heads']) == (found['embed_dims'],
                                                        found['heads'])
                and len(arch['depths']) == len(found['depths'])
                and all(a >= f for a, f in zip(arch['depths'],
                                               found['depths'])))]
    if not fits:
        raise ConversionError(f'no Swin architecture of ours has {found}; '
                              f'known: {SWIN_ARCHS}')
    name = min(fits)[1]
    table = first_shape(
        state, r'swin\.encoder\.layers\.\d+\.blocks\.\d+\.'
        r'attention\.self\.relative_position_bias_table')
    window = (int(round(table[0]**0.5)) + 1) // 2
    return name, dict(SWIN_ARCHS[name], window_size=window)


def concat_qkv(src: Source, prefix: str) -> Dict[str, torch.Tensor]:
    """Concatenate ``{prefix}{query,key,value}.{weight,bias}`` as ``qkv``
    (the kinds whose three parts are all present)."""
    out = {}
    for kind in ('weight', 'bias'):
        parts = [src[f'{prefix}{part}.{kind}']
                 for part in ('query', 'key', 'value')]
        if all(part is not None for part in parts):
            out[kind] = torch.cat(parts, dim=0)
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


def rename(src: Source,
           pairs: List[Tuple[str, str]],
           kinds: Tuple[str, ...] = ('weight', 'bias'),
           transform: Optional[Callable] = None) -> Dict[str, torch.Tensor]:
    """Copy ``src.{kind}`` to ``dst.{kind}`` for each pair and kind."""
    out = {}
    for source, dst in pairs:
        for kind in kinds:
            value = src[f'{source}.{kind}']
            if value is not None:
                out[f'{dst}.{kind}'] = transform(value) if transform else value
    return out


def put(out: dict, key: str, value: Optional[torch.Tensor]) -> None:
    if value is not None:
        out[key] = value


# (Hugging Face name, ours) of the tensors outside the transformer blocks,
# of the layers whose weight and bias map as they are, and of the block
# stacks (Hugging Face prefix, our prefix, which depth setting counts them).
# One table per model serves both directions.
_ENCODER_TENSORS = [
    ('vit.embeddings.cls_token', 'backbone.cls_token'),
    ('vit.embeddings.position_embeddings', 'backbone.pos_embed'),
]
_ENCODER_LAYERS = [('vit.embeddings.patch_embeddings.projection',
                    'backbone.patch_embed.projection'),
                   ('vit.layernorm', 'backbone.ln1')]
_ENCODER_BLOCKS = [('vit.encoder.layer.', 'backbone.layers.', 'num_layers')]
VIT_SIMMIM_MAP = dict(
    tensors=_ENCODER_TENSORS + [('vit.embeddings.mask_token',
                                 'backbone.mask_token')],
    layers=_ENCODER_LAYERS + [('decoder.0', 'neck.decoder.0')],
    blocks=_ENCODER_BLOCKS)
VIT_MAE_MAP = dict(
    tensors=_ENCODER_TENSORS + [('decoder.mask_token', 'neck.mask_token'),
                                ('decoder.decoder_pos_embed',
                                 'neck.decoder_pos_embed')],
    layers=_ENCODER_LAYERS + [('decoder.decoder_embed', 'neck.decoder_embed'),
                              ('decoder.decoder_norm', 'neck.ln1'),
                              ('decoder.decoder_pred', 'neck.decoder_pred')],
    blocks=_ENCODER_BLOCKS + [('decoder.decoder_layers.',
                               'neck.decoder_blocks.', 'decoder_layers')])


def map_vit(src: Source, table: dict, depths: dict,
            to_hf: bool) -> Dict[str, torch.Tensor]:
    """Map a ViT-family state dict through ``table`` (:data:`VIT_SIMMIM_MAP`,
    :data:`VIT_MAE_MAP`), Hugging Face's to ours or, with ``to_hf``, back.

    Args:
        src (Source): The state dict to read (:class:`Ours` with
            ``to_hf``).
        table (dict): ``tensors``, ``layers`` and ``blocks`` name pairs.
        depths (dict): The block count of each ``blocks`` entry's setting
            (``num_layers``, ``decoder_layers``).
        to_hf (bool): Ours to Hugging Face's.
    """
    def direction(hf: str, ours: str) -> Tuple[str, str]:
        return (ours, hf) if to_hf else (hf, ours)

    out = OrderedDict()
    for names in table['tensors']:
        source, dst = direction(*names)
        put(out, dst, src[source])
    out.update(rename(src, [direction(*names) for names in table['layers']]))
    for hf, ours, setting in table['blocks']:
        out.update(vit_blocks_to_hf(src, ours, hf, depths[setting]) if to_hf
                   else vit_blocks_from_hf(src, hf, ours, depths[setting]))
    return out


def convert_vit(src: Source, arch: dict) -> Dict[str, torch.Tensor]:
    """Map a ``ViTForMaskedImageModeling`` state dict to SimMIMViT + neck."""
    return map_vit(src, VIT_SIMMIM_MAP, arch, to_hf=False)


def vit_blocks_from_hf(src: Source, hf: str, ours: str,
                       count: int) -> Dict[str, torch.Tensor]:
    """Map ``count`` Hugging Face ViT layers (``{hf}{i}.``) to MMPretrain
    transformer blocks (``{ours}{i}.``): query, key and value joined."""
    out = OrderedDict()
    for i in range(count):
        old, new = f'{hf}{i}.', f'{ours}{i}.'
        out.update(rename(src, [(old + 'layernorm_before', new + 'ln1')]))
        for kind, value in concat_qkv(src,
                                      old + 'attention.attention.').items():
            out[new + f'attn.qkv.{kind}'] = value
        out.update(rename(src, [
            (old + 'attention.output.dense', new + 'attn.proj'),
            (old + 'layernorm_after', new + 'ln2'),
            (old + 'intermediate.dense', new + 'ffn.layers.0.0'),
            (old + 'output.dense', new + 'ffn.layers.1'),
        ]))
    return out


def convert_mae(src: Source, arch: dict) -> Dict[str, torch.Tensor]:
    """Map a ``ViTMAEForPreTraining`` state dict to MAEViT +
    MAEPretrainDecoder (MAE, KA-MAE, PixMIM and KA-PixMIM alike)."""
    return map_vit(src, VIT_MAE_MAP, arch, to_hf=False)


def convert_swin(src: Source, arch: dict) -> Dict[str, torch.Tensor]:
    """Map a ``SwinForMaskedImageModeling`` state dict to SimMIMSwin + neck."""
    if 'swin.embeddings.position_embeddings' in src:
        raise ConversionError(
            'swin.embeddings.position_embeddings: absolute position '
            'embeddings (use_absolute_embeddings=True) are not used by the '
            'released models or our Swin configs')
    out = OrderedDict()
    put(out, 'backbone.mask_token', src['swin.embeddings.mask_token'])
    out.update(rename(src, [
        ('swin.embeddings.patch_embeddings.projection',
         'backbone.patch_embed.projection'),
        ('swin.embeddings.norm', 'backbone.patch_embed.norm'),
    ]))
    window = arch['window_size']
    index = relative_position_index(window)
    for stage, depth in enumerate(arch['depths']):
        for block in range(depth):
            old = f'swin.encoder.layers.{stage}.blocks.{block}.'
            new = f'backbone.stages.{stage}.blocks.{block}.'
            out.update(rename(src, [(old + 'layernorm_before',
                                     new + 'norm1')]))
            attn = old + 'attention.self.'
            put(out, new + 'attn.w_msa.relative_position_bias_table',
                src[attn + 'relative_position_bias_table'])
            # Optional (see OPTIONAL_KEYS); when present, it must be the
            # standard index our table layout assumes.
            if attn + 'relative_position_index' in src and not torch.equal(
                    src[attn + 'relative_position_index'], index):
                raise ConversionError(
                    f'{attn}relative_position_index is not the standard '
                    f'{window}x{window}-window index: the bias table '
                    'cannot be mapped')
            out[new + 'attn.w_msa.relative_position_index'] = index.clone()
            for kind, value in concat_qkv(src, attn).items():
                out[new + f'attn.w_msa.qkv.{kind}'] = value
            out.update(rename(src, [
                (old + 'attention.output.dense', new + 'attn.w_msa.proj'),
                (old + 'layernorm_after', new + 'norm2'),
                (old + 'intermediate.dense', new + 'ffn.layers.0.0'),
                (old + 'output.dense', new + 'ffn.layers.1'),
            ]))
        if stage < len(arch['depths']) - 1:
            old = f'swin.encoder.layers.{stage}.downsample.'
            new = f'backbone.stages.{stage}.downsample.'
            out.update(rename(src, [(old + 'norm', new + 'norm')],
                              transform=merge_order))
            # The reduction is a Linear without bias.
            out.update(rename(src, [(old + 'reduction', new + 'reduction')],
                              kinds=('weight', ), transform=merge_order))
    last = len(arch['depths']) - 1
    out.update(rename(src, [('swin.layernorm', f'backbone.norm{last}'),
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
            ``swin-base``, or ``mae-`` and a ViT's); it must agree with the
            shapes. None infers it.

    Returns:
        tuple[dict, dict]: The ``backbone.``/``neck.`` state dict, and the
        metadata (architecture, family, Hugging Face LayerNorm epsilon).
    """
    family = detect_family(state)
    src = Source(state)
    if family == 'vit':
        name, found = vit_arch(state)
        converted = convert_vit(src, found)
    elif family == 'mae':
        name, found = vit_arch(state)
        name = f'mae-{name}'
        layers = {int(m.group(1)) for k in state if (m := re.match(
            r'decoder\.decoder_layers\.(\d+)\.', k))}
        found = dict(found, decoder_layers=max(layers, default=-1) + 1)
        converted = convert_mae(src, found)
    else:
        name, found = swin_arch(state)
        converted = convert_swin(src, found)
    if arch is not None and arch != name:
        raise ConversionError(f'--arch {arch} does not fit the checkpoint, '
                              f'whose shapes are those of {name}: {found}')
    missing = [k for k in src.missing
               if not any(re.fullmatch(p, k) for p in OPTIONAL_KEYS)]
    if missing:
        raise ConversionError(
            f'{len(missing)} weights of the {name} model are missing, so '
            f'the file is not a complete released checkpoint: {missing}')
    dropped = {k for k in state if any(re.fullmatch(p, k) for p in DROP_KEYS)}
    unknown = sorted(set(state) - src.used - dropped)
    if unknown:
        raise ConversionError(
            f'{len(unknown)} keys are neither mapped nor on the drop list, '
            f'e.g. {unknown[:5]}')
    meta = dict(arch=name, family=family,
                hf_layer_norm_eps=HF_LAYER_NORM_EPS[family],
                dropped_keys=sorted(dropped))
    if family == 'swin':
        meta['window_size'] = found['window_size']
    return converted, meta


def split_qkv(qkv: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """MMPretrain's ``qkv`` (weight or bias) as Hugging Face's query, key
    and value."""
    return tuple(qkv.chunk(3, dim=0))


def unmerge_order(weight: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`merge_order`: MMPretrain's channel-major
    patch-merging order back to Hugging Face's neighbour-major one."""
    *lead, merged = weight.shape
    channels = merged // 4
    by_channel = weight.reshape(*lead, channels, 4).transpose(-1, -2)
    # The neighbour permutation (0, 2, 1, 3) is its own inverse.
    return by_channel[..., [0, 2, 1, 3], :].reshape(*lead, merged)


class Ours(Source):
    """Our state dict, read as :class:`Source` reads Hugging Face's."""


def _qkv_to_hf(src: Ours, ours: str, hf: str) -> Dict[str, torch.Tensor]:
    out = {}
    for kind in ('weight', 'bias'):
        value = src[f'{ours}.{kind}'] if f'{ours}.{kind}' in src or \
            kind == 'weight' else None
        if value is None:
            continue
        for part, chunk in zip(('query', 'key', 'value'), split_qkv(value)):
            out[f'{hf}{part}.{kind}'] = chunk.clone()
    return out


def vit_to_hf(src: Ours, num_layers: int) -> Dict[str, torch.Tensor]:
    """Map SimMIMViT + SimMIMLinearDecoder keys to
    ``ViTForMaskedImageModeling``'s (the inverse of :func:`convert_vit`)."""
    return map_vit(src, VIT_SIMMIM_MAP, dict(num_layers=num_layers),
                   to_hf=True)


def vit_blocks_to_hf(src: Ours, ours: str, hf: str,
                     count: int) -> Dict[str, torch.Tensor]:
    """The inverse of :func:`vit_blocks_from_hf`."""
    out = OrderedDict()
    for i in range(count):
        old, new = f'{ours}{i}.', f'{hf}{i}.'
        out.update(rename(src, [(old + 'ln1', new + 'layernorm_before')]))
        out.update(_qkv_to_hf(src, old + 'attn.qkv',
                              new + 'attention.attention.'))
        out.update(rename(src, [
            (old + 'attn.proj', new + 'attention.output.dense'),
            (old + 'ln2', new + 'layernorm_after'),
            (old + 'ffn.layers.0.0', new + 'intermediate.dense'),
            (old + 'ffn.layers.1', new + 'output.dense'),
        ]))
    return out


def mae_to_hf(src: Ours, num_layers: int,
              decoder_layers: int) -> Dict[str, torch.Tensor]:
    """Map MAEViT + MAEPretrainDecoder keys to ``ViTMAEForPreTraining``'s
    (the inverse of :func:`convert_mae`)."""
    return map_vit(src, VIT_MAE_MAP, dict(num_layers=num_layers,
                                          decoder_layers=decoder_layers),
                   to_hf=True)


def swin_to_hf(src: Ours, depths: Sequence[int],
               classifier: bool = False) -> Dict[str, torch.Tensor]:
    """Map SimMIMSwinTransformer + SimMIMLinearDecoder keys to
    ``SwinForMaskedImageModeling``'s (the inverse of :func:`convert_swin`),
    or with ``classifier`` our Swin fine-tune (SwinTransformer + linear
    head) to ``SwinForImageClassification``'s. The relative position
    indices, buffers Hugging Face builds itself, are left out."""
    out = OrderedDict()
    if not classifier:
        put(out, 'swin.embeddings.mask_token', src['backbone.mask_token'])
    out.update(rename(src, [
        ('backbone.patch_embed.projection',
         'swin.embeddings.patch_embeddings.projection'),
        ('backbone.patch_embed.norm', 'swin.embeddings.norm'),
    ]))
    for stage, depth in enumerate(depths):
        for block in range(depth):
            ours = f'backbone.stages.{stage}.blocks.{block}.'
            hf = f'swin.encoder.layers.{stage}.blocks.{block}.'
            out.update(rename(src, [(ours + 'norm1',
                                     hf + 'layernorm_before')]))
            put(out, hf + 'attention.self.relative_position_bias_table',
                src[ours + 'attn.w_msa.relative_position_bias_table'])
            src.used.add(ours + 'attn.w_msa.relative_position_index')
            out.update(_qkv_to_hf(src, ours + 'attn.w_msa.qkv',
                                  hf + 'attention.self.'))
            out.update(rename(src, [
                (ours + 'attn.w_msa.proj', hf + 'attention.output.dense'),
                (ours + 'norm2', hf + 'layernorm_after'),
                (ours + 'ffn.layers.0.0', hf + 'intermediate.dense'),
                (ours + 'ffn.layers.1', hf + 'output.dense'),
            ]))
        if stage < len(depths) - 1:
            ours = f'backbone.stages.{stage}.downsample.'
            hf = f'swin.encoder.layers.{stage}.downsample.'
            out.update(rename(src, [(ours + 'norm', hf + 'norm')],
                              transform=unmerge_order))
            out.update(rename(src, [(ours + 'reduction', hf + 'reduction')],
                              kinds=('weight', ), transform=unmerge_order))
    last = len(depths) - 1
    out.update(rename(src, [(f'backbone.norm{last}', 'swin.layernorm')]))
    out.update(rename(src, [('head.fc', 'classifier') if classifier else
                            ('neck.decoder.0', 'decoder.0')]))
    return out


def to_hugging_face(state: Dict[str, torch.Tensor], family: str,
                    num_layers: Optional[int] = None,
                    depths: Optional[Sequence[int]] = None,
                    decoder_layers: Optional[int] = None
                    ) -> Dict[str, torch.Tensor]:
    """Map our pre-training state dict to Hugging Face's.

    Args:
        state (dict): ``backbone.`` and ``neck.`` tensors (DDP's ``module.``
            and the data preprocessor's buffers already removed).
        family (str): ``'vit'``, ``'swin'`` (SimMIM, KAMIM), ``'mae'``
            (MAE, KA-MAE, PixMIM, KA-PixMIM) or ``'swin-cls'`` (a Swin
            fine-tune, ``head.`` tensors too).
        num_layers (int, optional): A ViT's depth.
        depths (Sequence[int], optional): A Swin's stage depths.
        decoder_layers (int, optional): An MAE decoder's depth.

    Returns:
        dict[str, torch.Tensor]: Hugging Face's state dict (transformers
        4.x names), every value copied.

    Raises:
        ConversionError: Tensors the model needs are missing, or the state
            dict holds tensors the mapping does not know.
    """
    src = Ours(state)
    if family == 'vit':
        out = vit_to_hf(src, num_layers)
    elif family == 'mae':
        out = mae_to_hf(src, num_layers, decoder_layers)
    else:
        out = swin_to_hf(src, depths, classifier=family == 'swin-cls')
    if src.missing:
        raise ConversionError(
            f'{len(src.missing)} weights of the model are missing from the '
            f'checkpoint: {src.missing}')
    unknown = sorted(set(state) - src.used)
    if unknown:
        raise ConversionError(
            f'{len(unknown)} tensors of the checkpoint have no Hugging Face '
            f'place, e.g. {unknown[:5]}')
    return {k: v.clone() for k, v in out.items()}
