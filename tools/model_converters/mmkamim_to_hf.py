"""Export an mmkamim pre-training checkpoint to Hugging Face: a folder
with ``config.json`` and ``model.safetensors`` that transformers loads with
``ViTForMaskedImageModeling.from_pretrained`` (SimMIM, KAMIM; or
``SwinForMaskedImageModeling``) or ``ViTMAEForPreTraining.from_pretrained``
(MAE, KA-MAE, PixMIM, KA-PixMIM), or a Swin fine-tune checkpoint with
``SwinForImageClassification``, no key missing or unexpected.

The model's settings come from the config the checkpoint stores, else from
``--config``. Needs transformers (``pip install "mmkamim[hf]"``). The
mapping lives in :mod:`mmkamim.utils.hf_simmim`.

Usage:
    python tools/model_converters/mmkamim_to_hf.py CHECKPOINT OUT_DIR \
        [--config CFG] [--force] [--image-processor]
"""
import argparse
import sys

from mmkamim.utils.hf_export import export_to_hugging_face
from mmkamim.utils.hf_simmim import ConversionError


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Export an mmkamim pre-training checkpoint (or a Swin '
        'fine-tune) as a Hugging Face ViT/SwinForMaskedImageModeling, '
        'ViTMAEForPreTraining (or SwinForImageClassification) folder.')
    parser.add_argument('checkpoint', help='mmkamim checkpoint (.pth)')
    parser.add_argument('out_dir', help='folder to write')
    parser.add_argument('--config', help='the training config, for a '
                        'checkpoint that stores none')
    parser.add_argument('--force', action='store_true',
                        help='write into a folder that is not empty')
    parser.add_argument('--image-processor', action='store_true',
                        help='also write preprocessor_config.json '
                        '(ViTImageProcessor: resize, ImageNet mean/std)')
    args = parser.parse_args()
    try:
        done = export_to_hugging_face(args.checkpoint, args.out_dir,
                                      args.config, args.force,
                                      args.image_processor)
    except ConversionError as error:
        sys.exit(f'error: {error}')
    settings = done['settings']
    print(f'{args.checkpoint} -> {args.out_dir}: {done["hf_class"]} '
          f'({", ".join(f"{k}={v}" for k, v in settings.items())})\n'
          f'load it with transformers.{done["hf_class"]}.from_pretrained('
          f'{args.out_dir!r})')


if __name__ == '__main__':
    main()
