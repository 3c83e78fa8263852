"""Per-sample fields of data samples stacked into a batch, and per-cell
maps tiled to pixels (how the keypoint weights reach the loss)."""
from typing import List

import torch
from mmpretrain.structures import DataSample


def stack_field(data_samples: List[DataSample], key: str,
                device: torch.device) -> torch.Tensor:
    """Stack a per-sample array field of the data samples into a batch.

    Args:
        data_samples (list[DataSample]): The batch's data samples.
        key (str): Field name, e.g. ``'kp_weight'``.
        device (torch.device): Device of the result.

    Returns:
        torch.Tensor: (B, ...) stacked values.
    """
    missing = [i for i, sample in enumerate(data_samples) if key not in sample]
    if missing:
        raise ValueError(
            f'data samples {missing} have no {key!r}: compute the keypoint '
            "weights with model.data_preprocessor=dict(type="
            "'KAMIMDataPreprocessor', ...) (the keypoint configs' default), "
            f"or add KeypointDensity to the pipeline and {key!r} to "
            "PackInputs' algorithm_keys")
    return torch.stack([
        torch.as_tensor(sample.get(key)) for sample in data_samples
    ]).to(device)


def expand_cells(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Repeat a per-cell map to pixel resolution.

    Args:
        grid (torch.Tensor): Per-cell values (B, h, w).
        height (int): Target height H, a multiple of h.
        width (int): Target width W, a multiple of w.

    Returns:
        torch.Tensor: (B, 1, H, W), each cell covering H/h x W/w pixels.
    """
    rows, cols = grid.shape[-2:]
    if height % rows or width % cols or height // rows != width // cols:
        raise ValueError(
            f'a {rows}x{cols} grid of keypoint weights does not tile a '
            f'{height}x{width} image with square cells: the weights must come '
            'from the images the model sees, with a patch_size (w_ps) that '
            'divides their size')
    cell = height // rows
    return grid.repeat_interleave(cell, 1).repeat_interleave(
        cell, 2).unsqueeze(1)
