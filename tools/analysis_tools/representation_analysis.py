"""Per-layer representation analyses of ViT checkpoints (KAMIM paper, sec. 5).

For every checkpoint (``NAME=CONFIG:CHECKPOINT``: ours, ones converted from
the authors' releases, or MMPretrain ViT checkpoints; the backbone's weights
under ``backbone.``) on the same images: mean attention distance and NMI of
attention per layer and head, the Fourier profile of every layer's tokens,
a token t-SNE of the last layer (class token dropped, perplexity 20,
coloured by image) and a joint 2-component PCA of the tokens entering and
leaving one layer's self-attention. The definitions are in
``mmkamim/analysis/representation.py``. One PNG per analysis, the
checkpoints side by side or on shared axes, and ``representation.json``.
t-SNE and PCA need scikit-learn (the ``analysis`` extra).

Example:
    python tools/analysis_tools/representation_analysis.py \
        --checkpoints \
          SimMIM=configs/simmim_vit-base_8xb256_in1k.py:work_dirs/simmim.pth \
          KAMIM=configs/kamim_vit-base_8xb256_in1k.py:work_dirs/kamim.pth \
        --data data/imagenet/val --max-images 16 --out-dir work_dirs/repr
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict

import matplotlib.pyplot as plt
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

from mmkamim.analysis.reconstruction import load_square
from mmkamim.analysis.representation import analyse_layers
from mmkamim.utils import image_files
from mmkamim.utils.checkpoint_files import (
    apply_checkpoint_norm_eps,
    check_checkpoint_file,
)
from mmkamim.visualization import use_file_backend

IMAGENET_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
# Backbone arguments of pre-training or probing ViTs that a plain
# VisionTransformer does not take or must not keep.
_NOT_VIT = ('mask_ratio', 'init_cfg', 'out_indices', 'out_type', 'type')


def load_vit(config: str, checkpoint: str) -> torch.nn.Module:
    """MMPretrain's VisionTransformer with a checkpoint's backbone."""
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config)
    apply_checkpoint_norm_eps(cfg, checkpoint)
    backbone = {k: v for k, v in cfg.model.backbone.items()
                if k not in _NOT_VIT}
    vit = MODELS.build(dict(type='VisionTransformer', out_type='raw',
                            **backbone))
    check_checkpoint_file(checkpoint)
    loaded = load_checkpoint(vit, checkpoint, map_location='cpu',
                             revise_keys=[(r'^backbone\.', '')],
                             logger='silent')
    state = loaded.get('state_dict', loaded)
    missing = [k for k in vit.state_dict() if f'backbone.{k}' not in state]
    if missing:
        raise ValueError(
            f'{checkpoint} does not hold the ViT of {config}: '
            f'{len(missing)} backbone weights missing, e.g. {missing[:3]}')
    vit.eval()  # (MMPretrain's VisionTransformer.train returns None)
    return vit


def load_images(files, size: int) -> torch.Tensor:
    """(B, 3, size, size) ImageNet-normalised RGB images."""
    batch = np.stack([load_square(path, size)[..., ::-1] for path in files])
    images = torch.from_numpy(batch.copy()).permute(0, 3, 1, 2).float()
    return (images - IMAGENET_MEAN) / IMAGENET_STD


def pca_of_attention(vit, images: torch.Tensor, layer: int) -> Dict:
    """2-component PCA fitted jointly on one block's attention input and
    output tokens (class token dropped)."""
    from sklearn.decomposition import PCA
    captured = {}
    hook = vit.layers[layer].attn.register_forward_hook(
        lambda _m, inputs, out: captured.update(before=inputs[0],
                                                after=out))
    try:
        with torch.no_grad():
            vit(images)
    finally:
        hook.remove()
    extra = vit.num_extra_tokens
    before = captured['before'][:, extra:].flatten(0, 1).numpy()
    after = captured['after'][:, extra:].flatten(0, 1).numpy()
    pca = PCA(n_components=2).fit(np.concatenate([before, after]))
    return dict(before=pca.transform(before), after=pca.transform(after),
                explained=pca.explained_variance_ratio_.tolist())


def tsne(tokens: torch.Tensor) -> np.ndarray:
    """2-D t-SNE of (B, P, C) tokens, perplexity 20."""
    from sklearn.manifold import TSNE
    flat = tokens.flatten(0, 1).numpy()
    return TSNE(n_components=2, perplexity=min(20, len(flat) - 1),
                init='pca', random_state=0).fit_transform(flat)


def main() -> None:
    use_file_backend()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoints', nargs='+', required=True,
                        metavar='NAME=CONFIG:CHECKPOINT')
    parser.add_argument('--data', nargs='+', required=True,
                        help='image folders and/or files')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--max-images', type=int, default=16)
    parser.add_argument('--pca-layer', type=int, default=-1,
                        help='block whose self-attention the PCA shows')
    args = parser.parse_args()
    runs = []
    for item in args.checkpoints:
        name, sep, rest = item.partition('=')
        config, sep2, checkpoint = rest.rpartition(':')
        if not (sep and sep2):
            parser.error(f'--checkpoints takes NAME=CONFIG:CHECKPOINT, got '
                         f'{item!r}')
        runs.append((name, config, checkpoint))
    files = image_files(args.data)[:args.max_images]
    os.makedirs(args.out_dir, exist_ok=True)
    results = {}
    for i, (name, config, checkpoint) in enumerate(runs, 1):
        print(f'[{i}/{len(runs)}] {name}: {len(files)} images', flush=True)
        vit = load_vit(config, checkpoint)
        images = load_images(files, vit.patch_embed.init_input_size[0])
        layers = analyse_layers(vit, images)
        results[name] = dict(
            layers,
            tsne=tsne(layers['last_tokens']),
            pca=pca_of_attention(vit, images, args.pca_layer),
            images=len(files), tokens_per_image=layers['last_tokens'].shape[1],
            image_names=[osp.basename(f) for f in files],
            pca_layer=args.pca_layer % len(vit.layers))
    draw(results, args.out_dir)
    summary = {
        name: dict(
            config=config, checkpoint=checkpoint, images=len(files),
            attention_distance_px=results[name][
                'attention_distance'].tolist(),
            nmi=results[name]['nmi'].tolist(),
            fourier_relative_log_amplitude=results[name]['fourier'].tolist(),
            pca_explained_variance=results[name]['pca']['explained'])
        for name, config, checkpoint in runs
    }
    summary['definitions'] = (
        'attention distance: pixels, class token row/column dropped and rows '
        'renormalised; NMI with uniform queries; Fourier: log(|FFT2|+1e-6) '
        'of patch-token maps, half diagonal from frequency 0 to pi, minus '
        'its value at 0')
    with open(osp.join(args.out_dir, 'representation.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'written to {args.out_dir}')


def draw(results: Dict, out_dir: str) -> None:
    """One PNG per analysis; checkpoints on shared axes or side by side."""
    for key, label in (('attention_distance', 'mean attention distance (px)'),
                       ('nmi', 'NMI of attention')):
        fig, axis = plt.subplots(figsize=(6, 4), constrained_layout=True)
        for name, result in results.items():
            values = result[key]
            depth = np.arange(1, len(values) + 1)
            line = axis.plot(depth, values.mean(1), marker='o', label=name)
            axis.scatter(np.repeat(depth, values.shape[1]), values.ravel(),
                         s=6, alpha=0.35, color=line[0].get_color())
        axis.set_xlabel('layer')
        axis.set_ylabel(label)
        axis.legend()
        axis.grid(alpha=0.3)
        fig.savefig(osp.join(out_dir, f'{key}.png'), dpi=100)
        plt.close(fig)
    fig, axes = plt.subplots(1, len(results), squeeze=False,
                             figsize=(5 * len(results), 4), sharey=True,
                             constrained_layout=True)
    for axis, (name, result) in zip(axes[0], results.items()):
        profiles = result['fourier']
        freqs = np.linspace(0, 1, profiles.shape[1])
        colours = plt.cm.viridis(np.linspace(0, 1, len(profiles)))
        for depth, (profile, colour) in enumerate(zip(profiles, colours), 1):
            axis.plot(freqs, profile, color=colour, label=f'layer {depth}')
        axis.set_title(name)
        axis.set_xlabel('frequency (x pi)')
        axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel('relative log amplitude')
    axes[0, -1].legend(fontsize=7)
    fig.savefig(osp.join(out_dir, 'fourier.png'), dpi=100)
    plt.close(fig)
    for key in ('tsne', 'pca'):
        fig, axes = plt.subplots(1, len(results), squeeze=False,
                                 figsize=(5 * len(results), 4.5),
                                 constrained_layout=True)
        for axis, (name, result) in zip(axes[0], results.items()):
            if key == 'tsne':
                per_image = result['tokens_per_image']
                colours = plt.get_cmap('tab20')
                for i, image in enumerate(result['image_names']):
                    points = result['tsne'][i * per_image:(i + 1) * per_image]
                    axis.scatter(*points.T, s=3, color=colours(i % 20),
                                 label=image)
                axis.legend(fontsize=6, markerscale=3, loc='best',
                            title='tokens of image', title_fontsize=6)
                axis.set_xlabel('t-SNE 1')
                axis.set_ylabel('t-SNE 2')
            else:
                explained = result['pca']['explained']
                axis.scatter(*result['pca']['before'].T, s=3, alpha=0.5,
                             label='attention input')
                axis.scatter(*result['pca']['after'].T, s=3, alpha=0.5,
                             label='attention output')
                axis.legend(fontsize=7)
                axis.set_xlabel(f'PC 1 ({100 * explained[0]:.1f} % of '
                                'the variance)')
                axis.set_ylabel(f'PC 2 ({100 * explained[1]:.1f} %)')
            title = ('token t-SNE, last layer' if key == 'tsne' else
                     'PCA of tokens in and out of self-attention, layer '
                     f"{result['pca_layer'] + 1}")
            axis.set_title(f'{name}: {title}', fontsize=9)
        fig.savefig(osp.join(out_dir, f'{key}.png'), dpi=100)
        plt.close(fig)


if __name__ == '__main__':
    main()
