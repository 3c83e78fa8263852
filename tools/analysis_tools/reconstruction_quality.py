"""PSNR and SSIM of a pre-trained model's reconstructions over a folder.

Every image is resized (short side) and centre-cropped to the model's
input, masked with a fixed seed and reconstructed (see
``visualize_reconstruction.py``). Both metrics are scikit-image's
(``skimage.metrics``), on RGB in [0, 1] (data range 1.0):

- whole image: the model's output at every pixel, masked and visible alike
  (SimMIM-style models predict every pixel, MAE-style models every patch),
  against the original;
- masked region: PSNR over the masked pixels only; SSIM as the full SSIM map
  (7 x 7 windows, per channel) averaged over the masked pixels.

How the prediction is mapped back to pixels is stated with the figures:
MAE and PixMIM predict each patch normalised by its own mean and variance,
which are taken from the target, so their figures are not comparable with
SimMIM's and KAMIM's (mapped back with the ImageNet mean and std). A
checkpoint converted from Hugging Face gets the LayerNorm epsilon it was
trained with.

Prints a table and writes ``reconstruction_quality.json`` (per image and the
means). Needs scikit-image (the ``analysis`` or ``tests`` extra).

Example:
    python tools/analysis_tools/reconstruction_quality.py \
        configs/kamim_vit-base_8xb256_in1k.py work_dirs/kamim/epoch_110.pth \
        --data data/imagenet/val
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from mmengine.config import DictAction
from mmengine.utils import track_iter_progress

from mmkamim.analysis.reconstruction import (
    build_model,
    image_size,
    load_square,
    reconstruct,
)
from mmkamim.utils import image_files


def quality(original: np.ndarray, output: np.ndarray,
            mask: np.ndarray) -> dict:
    """PSNR (dB) and SSIM, whole image and masked pixels, RGB in [0, 1]."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    _, ssim_map = structural_similarity(
        original, output, data_range=1.0, channel_axis=-1, full=True)
    return dict(
        psnr=float(peak_signal_noise_ratio(original, output,
                                           data_range=1.0)),
        ssim=float(structural_similarity(original, output, data_range=1.0,
                                         channel_axis=-1)),
        psnr_masked=float(peak_signal_noise_ratio(
            original[mask], output[mask], data_range=1.0)),
        ssim_masked=float(ssim_map[mask].mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pre-training config')
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('--data', nargs='+', required=True,
                        help='image folders and/or files')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/reconstruction_quality',
        help='where reconstruction_quality.json goes')
    parser.add_argument('--mask-seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, help='override config settings')
    args = parser.parse_args()
    model = build_model(args.config, args.checkpoint, args.cfg_options)
    size = image_size(model)
    files = image_files(args.data)
    rows = []
    for path in track_iter_progress(files):
        out = reconstruct(model, load_square(path, size), args.mask_seed)
        rows.append(dict(file=path, masked_fraction=float(
            out['pixel_mask'].mean()), **quality(
                out['original'], out['raw'], out['pixel_mask'])))
    measured = dict(
        prediction_to_pixels=out['note'],
        whole_image="the model's output at every pixel, masked and visible "
        'alike, against the original',
        masked_pixels='only the masked pixels (SSIM: its map averaged '
        'there)')
    means = {key: float(np.mean([row[key] for row in rows]))
             for key in ('psnr', 'ssim', 'psnr_masked', 'ssim_masked')}
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'reconstruction_quality.json'),
              'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                       mask_seed=args.mask_seed, images=len(rows),
                       colour_space='RGB', data_range=1.0, mean=means,
                       measured=measured, per_image=rows), f, indent=2)
    print(f'\n{len(rows)} images, RGB in [0, 1] (data range 1.0), mask seed '
          f'{args.mask_seed}; {measured["prediction_to_pixels"]}. Whole '
          f'image: {measured["whole_image"]}.')
    print('| region | PSNR (dB) | SSIM |\n|---|---:|---:|')
    print(f'| whole image | {means["psnr"]:.3f} | {means["ssim"]:.4f} |')
    print(f'| masked pixels | {means["psnr_masked"]:.3f} | '
          f'{means["ssim_masked"]:.4f} |')


if __name__ == '__main__':
    main()
