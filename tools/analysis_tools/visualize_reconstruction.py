"""Reconstructions of a pre-trained model: original, masked, reconstructed.

Like the KAMIM paper's figure 2: for every image, the original, the masked
input and the reconstruction (the model's pixels where it was masked),
un-normalised to RGB, for SimMIM, KAMIM, MAE and PixMIM checkpoints (for
PixMIM also its low-frequency target). MAE and PixMIM predict per-patch
normalised pixels: each patch's mean and variance are taken from the
target, as the figure says. The mask comes from a fixed seed. Writes one PNG
per image and ``reconstructions.json``.

Example:
    python tools/analysis_tools/visualize_reconstruction.py \
        configs/kamim_vit-base_8xb256_in1k.py work_dirs/kamim/epoch_110.pth \
        --images data/my_images --out-dir work_dirs/recon
"""
import argparse
import json
import os
import os.path as osp

import matplotlib.pyplot as plt
from mmengine.config import DictAction

from mmkamim.analysis.reconstruction import (
    build_model,
    image_name,
    image_size,
    load_square,
    reconstruct,
)
from mmkamim.utils import image_files
from mmkamim.visualization import use_file_backend


def main() -> None:
    use_file_backend()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pre-training config')
    parser.add_argument('checkpoint', help='pre-training checkpoint')
    parser.add_argument('--images', nargs='+', required=True,
                        help='image files and/or folders')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--mask-seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, help='override config settings')
    args = parser.parse_args()
    model = build_model(args.config, args.checkpoint, args.cfg_options)
    size = image_size(model)
    os.makedirs(args.out_dir, exist_ok=True)
    files = image_files(args.images)
    written = []
    for i, path in enumerate(files):
        out = reconstruct(model, load_square(path, size), args.mask_seed)
        panels = [('original', out['original']),
                  ('masked input', out['masked'])]
        if out['target'] is not None:
            panels.append(('low-frequency target', out['target']))
        panels.append(('reconstruction', out['reconstruction']))
        fig, axes = plt.subplots(1, len(panels),
                                 figsize=(3.2 * len(panels), 3.8),
                                 constrained_layout=True)
        for axis, (name, img) in zip(axes, panels):
            axis.imshow(img)
            axis.set_title(name)
            axis.axis('off')
        fig.suptitle(f'{path}\n{type(model).__name__}, mask seed '
                     f'{args.mask_seed}; {out["note"]}', fontsize=9)
        figure = osp.join(args.out_dir, f'{i:04d}_{image_name(path)}.png')
        fig.savefig(figure, dpi=90)
        plt.close(fig)
        written.append(dict(file=path, figure=figure,
                            masked_fraction=float(out['pixel_mask'].mean())))
        print(f'[{i + 1}/{len(files)}] {path} -> {figure}', flush=True)
    with open(osp.join(args.out_dir, 'reconstructions.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                       model=type(model).__name__, mask_seed=args.mask_seed,
                       images=written), f, indent=2)


if __name__ == '__main__':
    main()
