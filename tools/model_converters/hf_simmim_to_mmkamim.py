"""Convert the KAMIM authors' released checkpoints (or any Hugging Face
SimMIM or ViTMAEForPreTraining model) to mmkamim checkpoints.

The authors released SimMIM and KAMIM pre-training checkpoints as state
dicts of Hugging Face ``ViTForMaskedImageModeling`` and
``SwinForMaskedImageModeling`` (transformers 4.x key names). SRC may be such
a ``torch.save`` file (bare or ``{'model_state_dict': ...}``), a
``.safetensors`` file, or a ``from_pretrained`` folder (whose
``config.json`` gives the LayerNorm epsilon). The mapping lives in
:mod:`mmkamim.utils.hf_simmim`; DST is an mmengine checkpoint that loads
with ``strict=True`` into our pre-training models and, through
``init_cfg``, into the probe and fine-tune backbones. A
``ViTMAEForPreTraining`` becomes MAEViT + MAEPretrainDecoder weights (our
MAE, KA-MAE, PixMIM and KA-PixMIM configs). transformers is not needed.

Usage:
    python tools/model_converters/hf_simmim_to_mmkamim.py SRC DST [--arch A]
"""
import argparse
import os.path as osp
import sys

import torch

from mmkamim.utils.hf_files import hf_layer_norm_eps, read_hf_checkpoint
from mmkamim.utils.hf_simmim import (
    SWIN_ARCHS,
    VIT_ARCHS,
    ConversionError,
    convert,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Convert a released KAMIM/SimMIM checkpoint (Hugging '
        'Face ViT/SwinForMaskedImageModeling, transformers 4.x) to an '
        'mmkamim checkpoint.')
    parser.add_argument('src', help='released checkpoint (.pth, '
                        '.safetensors, or a from_pretrained folder)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument(
        '--arch', choices=sorted([*VIT_ARCHS, *SWIN_ARCHS] +
                                 [f'mae-{name}' for name in VIT_ARCHS]),
        help='expected architecture; inferred from the shapes by default')
    args = parser.parse_args()

    try:
        state, config = read_hf_checkpoint(args.src)
        converted, meta = convert(state, args.arch)
    except ConversionError as error:
        sys.exit(f'error: {error}')
    eps = hf_layer_norm_eps(config)
    if eps is not None:
        meta['hf_layer_norm_eps'] = eps
    meta.update(source=osp.basename(osp.normpath(args.src)),
                converter='hf_simmim_to_mmkamim')
    torch.save(dict(meta=meta, state_dict=converted), args.dst)
    print(f'{args.src}: {meta["arch"]}, {len(converted)} tensors -> '
          f'{args.dst}')
    if meta['dropped_keys']:
        print(f'dropped on purpose: {meta["dropped_keys"]}')
    if meta['family'] in ('vit', 'mae'):
        eps = f'{meta["hf_layer_norm_eps"]:g}'
        # MAE's configs leave norm_cfg to the classes' defaults: name the
        # type too.
        neck = (f' model.backbone.norm_cfg.type=LN model.neck.norm_cfg.type=LN'
                f' model.neck.norm_cfg.eps={eps}'
                if meta['family'] == 'mae' else '')
        print(f'Hugging Face ViTs use LayerNorm eps {eps} (MMPretrain: '
              '1e-6). The tools that read this checkpoint apply it; pass it '
              'when you pre-train, probe or fine-tune it yourself:\n  '
              f'--cfg-options model.backbone.norm_cfg.eps={eps}{neck}')


if __name__ == '__main__':
    main()
