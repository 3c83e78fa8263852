"""The comparison's results as a markdown table."""
from typing import Sequence


def _cell(result: dict, key: str, digits: int) -> str:
    value = result[key]
    if value != value:  # NaN: not measured (no pre-training, no k-NN)
        return '-'
    if len(result.get('seeds', [0])) > 1:
        return f'{value:.{digits}f} ± {result[key + "_std"]:.{digits}f}'
    return f'{value:.{digits}f}'


def markdown_table(results: Sequence[dict]) -> str:
    """One row per run: final pre-training loss, k-NN top-1 after the
    pre-training, probe accuracy, times (mean ± standard deviation over the
    seeds when there are several)."""
    seeds = max(len(r.get('seeds', [0])) for r in results)
    note = f' (mean ± sd over {seeds} seeds)' if seeds > 1 else ''
    lines = [
        f'| method{note} | pre-training loss (last epoch) '
        '| k-NN top-1 (%) | probe top-1 (%) '
        '| probe top-5 (%) | pre-training time (s) | probe time (s) |',
        '|---|---:|---:|---:|---:|---:|---:|',
    ]
    for r in results:
        lines.append(
            f'| {r["name"]} | {_cell(r, "final_loss", 4)} '
            f'| {_cell(r, "knn_top1", 2)} '
            f'| {_cell(r, "top1", 2)} | {_cell(r, "top5", 2)} '
            f'| {_cell(r, "pretrain_seconds", 0)} '
            f'| {_cell(r, "probe_seconds", 0)} |')
    return '\n'.join(lines)
