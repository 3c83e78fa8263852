"""One figure per image: the pipeline's stages, keypoints, F, W and mask."""
from typing import Dict, Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import numpy as np


def draw_keypoint_weights(stages: Sequence[Tuple[str, np.ndarray]],
                          view: Dict,
                          title: str,
                          out_file: Optional[str] = None):
    """Draw what training makes of one image.

    Args:
        stages (Sequence[tuple]): ``(transform name, RGB image)`` after each
            pipeline stage (first row).
        view (dict): ``image`` (RGB), ``points`` ((N, 2) x, y),
            ``keypoint_map`` (H, W), ``kp_weight`` (h, w), ``mask`` (H, W)
            and ``source`` (second row; the ones that are None are left
            out).
        title (str): Figure title, e.g. the source file's name.
        out_file (str, optional): Save the figure here as PNG.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    image = view['image']
    panels = []
    if view['points'] is not None:
        panels.append(('keypoints', 'points'))
    if view['keypoint_map'] is not None:
        panels.append(('keypoint map F', 'map'))
    if view['kp_weight'] is not None:
        panels.append(('weights W', 'weights'))
    if view['mask'] is not None:
        panels.append(('mask (masked patches dark)', 'mask'))
    cols = max(len(stages), len(panels), 1)
    fig, axes = plt.subplots(2, cols, figsize=(3 * cols, 6.6),
                             constrained_layout=True, squeeze=False)
    for axis in axes.ravel():
        axis.axis('off')
    for axis, (name, img) in zip(axes[0], stages):
        axis.imshow(img)
        axis.set_title(f'{name}\n{img.shape[1]} x {img.shape[0]}',
                       fontsize=9)
    for axis, (name, kind) in zip(axes[1], panels):
        if kind == 'points':
            axis.imshow(image)
            points = view['points']
            axis.scatter(points[:, 0], points[:, 1], s=4, c='lime',
                         linewidths=0)
            name = f'{len(points)} keypoints'
        elif kind == 'map':
            axis.imshow(view['keypoint_map'], cmap='gray', vmin=0, vmax=1)
            name += f' ({view["keypoint_map"].mean() * 100:.0f} % marked)'
        elif kind == 'weights':
            weight = view['kp_weight']
            shown = axis.imshow(weight, cmap='magma')
            fig.colorbar(shown, ax=axis, fraction=0.046)
            name += f' (min {weight.min():.2f}, max {weight.max():.1f})'
        else:
            axis.imshow(image)
            axis.imshow(view['mask'], cmap='gray_r', alpha=0.6, vmin=0,
                        vmax=1)
        axis.set_title(name, fontsize=9)
    fig.suptitle(f'{title}\nweights from {view["source"]}'
                 if view['kp_weight'] is not None else
                 f'{title}\nno keypoint weights: the config computes none')
    if out_file is not None:
        fig.savefig(out_file, dpi=90)
    return fig


def draw_reconstructions(columns: Dict[str, Sequence[Dict]],
                         rows: Sequence[str],
                         out_file: Optional[str] = None):
    """Reconstructions of the same images by several models.

    Args:
        columns (dict): Model name to one ``reconstruct`` result per image
            (``original``, ``masked``, ``reconstruction``, ``note``).
        rows (Sequence[str]): The images' names.
        out_file (str, optional): Save the figure here as PNG.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    names = list(columns)
    cols = 1 + 2 * len(names)
    fig, axes = plt.subplots(len(rows), cols, squeeze=False,
                             figsize=(2.2 * cols, 2.4 * len(rows)),
                             constrained_layout=True)
    for row, label in enumerate(rows):
        first = columns[names[0]][row]
        panels = [(f'{label}: original', first['original'])]
        for name in names:
            out = columns[name][row]
            panels += [(f'{name}: masked', out['masked']),
                       (f'{name}: reconstruction', out['reconstruction'])]
        for axis, (title, img) in zip(axes[row], panels):
            axis.imshow(img)
            axis.set_title(title, fontsize=8)
            axis.axis('off')
    notes = {columns[name][0]['note'] for name in names}
    fig.suptitle('Reconstructions (model pixels where masked); ' +
                 '; '.join(sorted(notes)), fontsize=8)
    if out_file is not None:
        fig.savefig(out_file, dpi=90)
    return fig
