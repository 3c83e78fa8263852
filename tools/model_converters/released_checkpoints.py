"""From the authors' released checkpoints to a table row: the commands.

Reads the metafiles that ``model-index.yml`` lists (the one place the
reported figures are kept) and prints, for every released checkpoint or
those named, its reported linear-probe and fine-tuning top-1 and the three
commands that reproduce a row: convert, linear-probe, fine-tune. Nothing is
run.

Usage:
    python tools/model_converters/released_checkpoints.py \
        [--names NAME ...] [--download-dir DIR] [--work-dir DIR] [--gpus N]
"""
import argparse
import os.path as osp
from typing import List

import yaml

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODEL_INDEX = osp.join(REPO_ROOT, 'model-index.yml')


def load_all(index: str = MODEL_INDEX) -> List[dict]:
    """Every ``Models`` entry of the metafiles ``model-index.yml`` lists."""
    with open(index) as f:
        metafiles = yaml.safe_load(f)['Import']
    models = []
    for metafile in metafiles:
        with open(osp.join(osp.dirname(index), metafile)) as f:
            models += yaml.safe_load(f)['Models']
    return models


def load_models(index: str = MODEL_INDEX) -> List[dict]:
    """The pre-training entries of the authors' released checkpoints (those
    with a ``Converter Arch``), each with its linear-probe and fine-tuning
    entries (their ``Downstream`` models, which hold the reported top-1)
    under ``'Linear Probe'`` and ``'Fine-tune'``."""
    models = load_all(index)
    by_name = {model['Name']: model for model in models}
    released = []
    for model in models:
        if 'Converter Arch' not in model:
            continue
        probe, finetune = (by_name[name] for name in model['Downstream'])
        released.append(dict(model, **{'Linear Probe': probe,
                                        'Fine-tune': finetune}))
    return released


def commands(model: dict, download_dir: str, work_dir: str,
             gpus: int) -> List[str]:
    """Convert, linear-probe and fine-tune commands for one checkpoint.

    Args:
        model (dict): An entry of :func:`load_models`.
        download_dir (str): Folder of the downloaded released files, each
            saved as ``{Name}.pth``.
        work_dir (str): Folder for the converted checkpoint and the runs.
        gpus (int): GPUs per run.

    Returns:
        list[str]: Shell commands, to run in the repository root.
    """
    name = model['Name']
    converted = f'{work_dir}/{name}.pth'
    options = ' '.join([f'model.backbone.init_cfg.checkpoint={converted}'] +
                       list(model['Config Options']))
    return [
        f'python tools/model_converters/hf_simmim_to_mmkamim.py '
        f'{download_dir}/{name}.pth {converted} '
        f'--arch {model["Converter Arch"]}',
        f'tools/dist_train.sh {model["Linear Probe"]["Config"]} {gpus} '
        f'--work-dir {work_dir}/{name}/linear --cfg-options {options}',
        f'tools/dist_train.sh {model["Fine-tune"]["Config"]} {gpus} '
        f'--work-dir {work_dir}/{name}/finetune --cfg-options {options}',
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description='Print the released KAMIM/SimMIM checkpoints, their '
        'reported top-1 and the commands that reproduce them.')
    parser.add_argument('--names', nargs='+', help='checkpoints to show '
                        '(default: all ten)')
    parser.add_argument('--download-dir', default='checkpoints/released',
                        help='where the released files are saved, each as '
                        'NAME.pth')
    parser.add_argument('--work-dir', default='work_dirs/released',
                        help='where converted checkpoints and runs go')
    parser.add_argument('--gpus', type=int, default=8)
    args = parser.parse_args()

    models = load_models()
    if args.names:
        known = {m['Name'] for m in models}
        unknown = sorted(set(args.names) - known)
        if unknown:
            parser.error(f'unknown checkpoints {unknown}; known: '
                         f'{sorted(known)}')
        models = [m for m in models if m['Name'] in args.names]
    print('Top-1 on ImageNet-1k as REPORTED by the authors (not measured '
          'here):\n')
    print('| checkpoint | linear probe | fine-tune | weights |')
    print('|---|---:|---:|---|')
    for model in models:
        top1 = [model[kind]['Results'][0]['Metrics']['Top 1 Accuracy']
                for kind in ('Linear Probe', 'Fine-tune')]
        print(f'| {model["Name"]} | {top1[0]:.2f} | {top1[1]:.2f} | '
              f'{model["Download"]} |')
    for model in models:
        print(f'\n# {model["Name"]}')
        for command in commands(model, args.download_dir, args.work_dir,
                                args.gpus):
            print(command)


if __name__ == '__main__':
    main()
