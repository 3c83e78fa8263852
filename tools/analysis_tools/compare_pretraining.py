"""Pre-train several configs and linear-probe each on the same footing.

Every run gets the same data, seed and schedule overrides
(``--cfg-options``) and the same probe config; each stage runs as its own
``tools/train.py`` process (``tools/dist_train.sh`` with ``--nproc > 1``).
Writes ``results.md`` (one table), ``results.json`` and ``comparison.png``
(loss curves; keypoint weight maps of ``--examples`` images) to the work
dir.

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
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from mmkamim.analysis import compare, keypoint_examples, markdown_table


def parse_runs(items):
    runs = []
    for item in items:
        name, sep, config = item.partition('=')
        if not sep:
            name, config = osp.splitext(osp.basename(item))[0], item
        if not osp.isfile(config):
            raise FileNotFoundError(f'config of run {name!r} not found: '
                                    f'{config}')
        runs.append(dict(name=name, config=config))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--runs',
        nargs='+',
        required=True,
        help='pre-training configs, as NAME=CONFIG or CONFIG')
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
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--nproc', type=int, default=1, help='processes (GPUs) per stage')
    parser.add_argument(
        '--examples',
        nargs='*',
        default=[],
        help='images whose keypoint weights the figure shows')
    args = parser.parse_args()
    results = compare(
        parse_runs(args.runs),
        args.probe_config,
        args.work_dir,
        pretrain_options=dict(args.cfg_options),
        probe_options=dict(args.probe_cfg_options),
        seed=args.seed,
        nproc=args.nproc,
        examples=keypoint_examples(args.examples),
        log=lambda line: print(line, flush=True))
    print(markdown_table(results))


if __name__ == '__main__':
    main()
