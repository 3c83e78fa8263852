"""One PNG for a pre-training comparison: loss curves and keypoint weights."""
from typing import Dict, Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import numpy as np


def epoch_means(losses: Sequence[float],
                epochs: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Mean of the logged losses of every epoch.

    Args:
        losses (Sequence[float]): Logged losses.
        epochs (Sequence[int]): Epoch of each logged loss.

    Returns:
        tuple[np.ndarray, np.ndarray]: The epochs and their mean losses.
    """
    losses, epochs = np.asarray(losses, np.float64), np.asarray(epochs)
    keys = np.unique(epochs)
    return keys, np.array([losses[epochs == k].mean() for k in keys])


def draw_comparison(results: Sequence[Dict],
                    examples: Sequence[Dict] = (),
                    out_file: Optional[str] = None,
                    title: str = 'Pre-training comparison'):
    """Plot loss curves of several runs beside keypoint weight examples.

    Args:
        results (Sequence[dict]): Runs with ``name``, ``loss`` and
            ``loss_epoch`` (logged losses and their epochs) and ``top1``;
            with ``knn_curve`` and ``knn_epoch`` (k-NN top-1 during
            pre-training, %, and its epochs), a k-NN panel below the loss.
        examples (Sequence[dict]): Images with ``img`` (BGR uint8),
            ``keypoint_map`` (H, W) and ``kp_weight`` (H / w_ps, W / w_ps);
            one row each.
        out_file (str, optional): Save the figure here as PNG.
        title (str): Figure title.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    rows = max(1, len(examples))
    with_knn = any(run.get('knn_curve') for run in results)
    fig = plt.figure(figsize=(13, 3.2 * max(rows, 1 + with_knn)),
                     constrained_layout=True)
    grid = fig.add_gridspec(rows, 4, width_ratios=[2.2, 1, 1, 1])
    curves = grid[:, 0].subgridspec(1 + with_knn, 1)
    ax = fig.add_subplot(curves[0])
    for run in results:
        epochs, means = epoch_means(run['loss'], run['loss_epoch'])
        ax.plot(epochs, means,
                label=f'{run["name"]} (probe top-1 {run["top1"]:.1f} %)')
    ax.set_yscale('log')
    ax.set_xlabel('epoch')
    ax.set_ylabel('training loss (mean per epoch)')
    ax.set_title('Pre-training loss\n(KAMIM\'s is keypoint-weighted, >= L1)')
    ax.legend()
    ax.grid(alpha=0.3)
    if with_knn:
        knn = fig.add_subplot(curves[1], sharex=ax)
        for run in results:
            knn.plot(run.get('knn_epoch', []), run.get('knn_curve', []),
                     marker='o', label=run['name'])
        knn.set_xlabel('epoch')
        knn.set_ylabel('k-NN top-1 (%)')
        knn.set_title('k-NN top-1 of the encoder during pre-training\n'
                      '(weighted, k = 20, on the validation images)')
        knn.legend()
        knn.grid(alpha=0.3)
    for row, example in enumerate(examples):
        img = example['img'][..., ::-1]
        weight = example['kp_weight']
        panels = [
            (img, 'image', None),
            (example['keypoint_map'], 'keypoint map F', 'gray'),
            (np.kron(weight, np.ones((img.shape[0] // weight.shape[0],
                                      img.shape[1] // weight.shape[1]))),
             f'weights W (max {weight.max():.1f})', 'magma'),
        ]
        for col, (data, name, cmap) in enumerate(panels, 1):
            axis = fig.add_subplot(grid[row, col])
            shown = axis.imshow(data, cmap=cmap)
            if cmap == 'magma':
                fig.colorbar(shown, ax=axis, fraction=0.046)
            axis.set_title(name if not example.get('title') or col != 1 else
                           example['title'])
            axis.axis('off')
    fig.suptitle(title)
    if out_file is not None:
        fig.savefig(out_file, dpi=100)
    return fig
