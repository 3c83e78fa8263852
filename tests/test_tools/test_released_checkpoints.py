"""The released checkpoints' metafile, and the commands printed from it."""
import glob
import os.path as osp
import re
import shlex
import subprocess
import sys
from types import SimpleNamespace

import modelindex
from conftest import REPO_ROOT, load_tool
from mmengine.config import Config, DictAction

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters',
                'released_checkpoints.py')
MODEL_INDEX = osp.join(REPO_ROOT, 'model-index.yml')


def tool():
    return load_tool('model_converters', 'released_checkpoints.py')


def test_metafiles_list_the_ten_released_checkpoints():
    index = modelindex.load(MODEL_INDEX)  # what `mim` reads
    released = [m for m in index.models if 'Converter Arch' in m.data]
    assert len(released) == 10
    archs = sorted(m.data['Converter Arch'] for m in released)
    assert archs == sorted(2 * ['vit-tiny', 'vit-small', 'vit-base',
                                'swin-tiny', 'swin-base'])
    # Every pre-training config is listed, with no classification result of
    # its own (MMPretrain's inference would take it for a classifier), and
    # says where its figures come from.
    pretraining = [m for m in index.models if '-pre_' not in m.name]
    listed = {osp.basename(m.config) for m in pretraining}
    assert listed == {osp.basename(p) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '*_in1k.py'))}
    by_name = {m.name: m for m in index.models}
    for model in pretraining:
        assert not model.results and model.weights is None
        assert model.data['Results Source'].startswith(
            ('pre-training', 'reported', 'no reported results'))
    for model in released:
        # Its probe and fine-tune entries hold the reported top-1, have no
        # weights, and name it.
        probe, finetune = (by_name[n] for n in model.data['Downstream'])
        assert '-linear-' in probe.config and '-finetune-' in finetune.config
        for entry in (probe, finetune):
            assert entry.results[0].task == 'Image Classification'
            assert entry.weights is None
            assert entry.data['Pretrained From'] == model.name
            assert entry.data['Results Source'].startswith('reported')
            assert osp.isfile(osp.join(REPO_ROOT, entry.config))
        assert model.data['Download'].startswith('https://drive.google.com')
        assert osp.isfile(osp.join(REPO_ROOT, model.config))


def test_commands_convert_then_probe_and_finetune_without_editing():
    module = tool()
    for model in module.load_models():
        convert, probe, finetune = module.commands(model, 'dl', 'wd', 8)
        assert convert.split()[-1] == model['Converter Arch']
        converted = f'wd/{model["Name"]}.pth'
        assert convert.split()[2:4] == [f'dl/{model["Name"]}.pth', converted]
        for command in (probe, finetune):
            words = shlex.split(command)
            assert words[0] == 'tools/dist_train.sh'
            cfg = Config.fromfile(osp.join(REPO_ROOT, words[1]))
            options = words[words.index('--cfg-options') + 1:]
            parsed = SimpleNamespace()
            DictAction(option_strings=[], dest='x')(None, parsed, options)
            cfg.merge_from_dict(parsed.x)
            backbone = cfg.model.backbone
            assert backbone.init_cfg.checkpoint == converted
            if model['Converter Arch'].startswith('vit'):
                # Hugging Face's ViT LayerNorm, on top of a complete norm_cfg.
                assert backbone.norm_cfg == dict(type='LN', eps=1e-12)


def test_reported_figures_live_only_in_the_metafiles():
    figures = set()
    for model in modelindex.load(MODEL_INDEX).models:
        values = [v for result in model.results or []
                  for v in result.metrics.values()]
        values += list(model.data.get('Reported Downstream Top 1 Accuracy',
                                      {}).values())
        for value in values:
            figures |= {f'{value:.2f}', f'{value:g}'}
    assert len(figures) >= 20
    docs = glob.glob(osp.join(REPO_ROOT, 'docs', '*.md')) + [
        osp.join(REPO_ROOT, 'README.md')
    ]
    for path in docs:
        with open(path) as f:
            text = f.read()
        copied = sorted(
            figure for figure in figures
            if re.search(rf'(?<![\d.]){re.escape(figure)}(?!\d)', text))
        assert not copied, f'{path} restates {copied}'


def test_tool_prints_the_reported_table_and_commands():
    name = 'kamim_vit-base_8xb256_in1k'
    done = subprocess.run([sys.executable, TOOL, '--names', name],
                          capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert 'REPORTED' in done.stdout and f'| {name} | 33.97 | 77.30 |' in \
        done.stdout
    assert done.stdout.count('tools/dist_train.sh') == 2
