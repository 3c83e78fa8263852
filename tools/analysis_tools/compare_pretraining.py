"""Pre-train several configs and linear-probe each on the same footing.

Every run gets the same data, seeds and shared overrides (``--cfg-options``)
and the same probe config; each stage runs as its own ``tools/train.py``
process (``tools/dist_train.sh`` with ``--nproc > 1``). Writes
``results.md`` (one table), ``results.json`` and ``comparison.png`` (loss
curves; keypoint weight maps of ``--examples`` images) to the work dir.

- ``--run-cfg-options NAME key=value ...`` overrides one run only;
- ``--sweep KEY=V1,V2,...`` trains every run once per value;
- ``--checkpoints NAME=CKPT ...`` probes existing checkpoints (e.g. the
  authors' released ones, converted) without pre-training;
- ``--seeds 0 1 2`` repeats everything per seed; the table gives mean and
  standard deviation;
- calling it again with the same work dir skips the stages that finished
  and resumes the one that was interrupted.

Example (the KAMIM paper's ViT-B setting, with PixMIM and keypoint-aware
PixMIM on the same footing; 8 GPUs per stage):
    python tools/analysis_tools/compare_pretraining.py \
        --runs SimMIM=configs/simmim_vit-base_8xb256_in1k.py \
               KAMIM=configs/kamim_vit-base_8xb256_in1k.py \
               PixMIM=configs/pixmim_vit-base_8xb256_in1k.py \
               KA-PixMIM=configs/kapixmim_vit-base_8xb256_in1k.py \
        --probe-config \
            configs/benchmarks/vit-base-p16_8xb256-linear-coslr-100e_in1k.py \
        --work-dir work_dirs/compare --nproc 8

A temperature sweep of KAMIM over 3 seeds:
    python tools/analysis_tools/compare_pretraining.py \
        --runs KAMIM=configs/kamim_vit-base_8xb256_in1k.py \
        --sweep model.data_preprocessor.temperature=0.1,0.25,0.5 \
        --seeds 0 1 2 --probe-config ... --work-dir work_dirs/sweep_t
"""
import argparse
import os.path as osp
from typing import Dict, List

from mmengine.config import DictAction

from mmkamim.analysis import (
    compare,
    keypoint_examples,
    markdown_table,
    sweep_runs,
)
from mmkamim.utils import refused_without_traceback
from mmkamim.visualization import use_file_backend


def parse_named(items: List[str], what: str) -> List[Dict[str, str]]:
    """``NAME=PATH`` (or ``PATH``, named after its file) items."""
    named = []
    for item in items:
        name, sep, path = item.partition('=')
        if not sep:
            name, path = osp.splitext(osp.basename(item))[0], item
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} of run {name!r} not found: '
                                    f'{path}')
        named.append(dict(name=name, **{what: path}))
    return named


def parse_value(text: str):
    """A ``--sweep`` value as ``--cfg-options`` reads it (number or str)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    use_file_backend()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--runs',
        nargs='+',
        default=[],
        help='pre-training configs, as NAME=CONFIG or CONFIG')
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        default=[],
        help='probe these pre-trained checkpoints (NAME=CKPT) without '
        'pre-training')
    parser.add_argument(
        '--probe-config', required=True, help='linear-probe config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='overrides for every pre-training (data, schedule, ...)')
    parser.add_argument(
        '--probe-cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='overrides for every probe')
    parser.add_argument(
        '--run-cfg-options',
        nargs='+',
        action='append',
        default=[],
        metavar='NAME KEY=VALUE',
        help='pre-training overrides of one run (repeatable)')
    parser.add_argument(
        '--sweep',
        help='KEY=V1,V2,...: every pre-training run once per value')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument(
        '--nproc', type=int, default=1, help='processes (GPUs) per stage')
    parser.add_argument(
        '--examples',
        nargs='*',
        default=[],
        help='images whose keypoint weights the figure shows')
    args = parser.parse_args()

    runs = parse_named(args.runs, 'config')
    if not runs and not args.checkpoints:
        parser.error('give --runs, --checkpoints or both')
    by_name = {run['name']: run for run in runs}
    for name, *options in args.run_cfg_options:
        if name not in by_name:
            parser.error(f'--run-cfg-options: no run named {name!r} in '
                         f'--runs ({sorted(by_name)})')
        parsed = argparse.Namespace()
        DictAction(option_strings=[], dest='options')(None, parsed, options)
        by_name[name].setdefault('options', {}).update(parsed.options)
    if args.sweep:
        key, sep, values = args.sweep.partition('=')
        if not sep or not values:
            parser.error(f'--sweep takes KEY=V1,V2,..., got {args.sweep!r}')
        runs = sweep_runs(runs,
                          key, [parse_value(v) for v in values.split(',')])
    runs += parse_named(args.checkpoints, 'checkpoint')
    with refused_without_traceback():
        results = compare(
            runs,
            args.probe_config,
            args.work_dir,
            pretrain_options=dict(args.cfg_options),
            probe_options=dict(args.probe_cfg_options),
            seeds=args.seeds,
            nproc=args.nproc,
            examples=keypoint_examples(args.examples),
            log=lambda line: print(line, flush=True))
    print(markdown_table(results))


if __name__ == '__main__':
    main()
