"""A grid probe's accuracies as heat maps: blocks x learning rates, one map
per norm."""
from typing import Dict, List, Optional

import matplotlib.pyplot as plt
import numpy as np


def grid_tables(heads: List[Dict]) -> Dict[str, Dict]:
    """Per norm, the blocks, the learning rates and the top-1 table.

    Args:
        heads (list[dict]): ``block``, ``norm``, ``lr`` and ``top1`` of each
            head.

    Returns:
        dict: ``{norm: dict(blocks, lrs, top1)}``, ``top1`` a (blocks, lrs)
        array with NaN where the grid has no head.
    """
    tables = {}
    for norm in dict.fromkeys(h['norm'] for h in heads):
        mine = [h for h in heads if h['norm'] == norm]
        blocks = sorted({h['block'] for h in mine})
        lrs = sorted({h['lr'] for h in mine})
        top1 = np.full((len(blocks), len(lrs)), np.nan)
        for h in mine:
            top1[blocks.index(h['block']), lrs.index(h['lr'])] = h['top1']
        tables[norm] = dict(blocks=blocks, lrs=lrs, top1=top1)
    return tables


def markdown_tables(heads: List[Dict]) -> str:
    """The top-1 tables as markdown, one per norm."""
    lines = []
    for norm, table in grid_tables(heads).items():
        lines.append(f'top-1 (%), norm {norm}:')
        lines.append('| block | ' + ' | '.join(f'lr {lr:g}'
                                                for lr in table['lrs']) +
                     ' |')
        lines.append('|---:|' + '---:|' * len(table['lrs']))
        for block, row in zip(table['blocks'], table['top1']):
            cells = ' | '.join('' if np.isnan(v) else f'{v:.2f}' for v in row)
            lines.append(f'| {block} | {cells} |')
        lines.append('')
    return '\n'.join(lines).rstrip('\n')


def draw_grid(heads: List[Dict], title: str,
              out_file: Optional[str] = None):
    """Heat maps of the heads' top-1: blocks x learning rates, one panel per
    norm; the best head framed in black, the config's own setting in
    white.

    Args:
        heads (list[dict]): ``block``, ``norm``, ``lr``, ``top1`` and the
            flags ``best`` and ``headline`` of each head.
        title (str): Figure title.
        out_file (str, optional): Save the figure here as PNG.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    tables = grid_tables(heads)
    values = np.array([h['top1'] for h in heads])
    fig, axes = plt.subplots(
        1, len(tables), squeeze=False, constrained_layout=True,
        figsize=(1.2 + 1.1 * max(len(t['lrs']) for t in tables.values()) *
                 len(tables), 1.2 + 0.6 * max(len(t['blocks'])
                                              for t in tables.values())))
    for axis, (norm, table) in zip(axes[0], tables.items()):
        image = axis.imshow(table['top1'], cmap='viridis', aspect='auto',
                            vmin=values.min(), vmax=values.max())
        axis.set_xticks(range(len(table['lrs'])),
                        [f'{lr:g}' for lr in table['lrs']])
        axis.set_yticks(range(len(table['blocks'])), table['blocks'])
        axis.set_xlabel('learning rate')
        axis.set_ylabel('block')
        axis.set_title(f'norm: {norm}')
        for i, row in enumerate(table['top1']):
            for j, value in enumerate(row):
                if not np.isnan(value):
                    axis.text(j, i, f'{value:.1f}', ha='center',
                              va='center', fontsize=8, color='w')
        for h in heads:
            if h['norm'] != norm or not (h['best'] or h['headline']):
                continue
            i, j = table['blocks'].index(h['block']), table['lrs'].index(
                h['lr'])
            axis.add_patch(plt.Rectangle(
                (j - 0.5, i - 0.5), 1, 1, fill=False, linewidth=2.5,
                edgecolor='k' if h['best'] else 'w'))
        fig.colorbar(image, ax=axis, label='top-1 (%)')
    fig.suptitle(title)
    if out_file is not None:
        fig.savefig(out_file, dpi=90)
        plt.close(fig)
    return fig
