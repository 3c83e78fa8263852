import json
import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, tiny_demo_config


@pytest.mark.slow  # two runs pre-trained and probed, about 50 s
def test_compare_tool_writes_one_table_and_one_figure(tmp_path,
                                                      photo_dataset):
    simmim = tiny_demo_config(tmp_path, photo_dataset,
                              'simmim_vit-micro_1xb32_photos-96px.py')
    pixmim = tiny_demo_config(tmp_path, photo_dataset,
                              'pixmim_vit-micro_1xb32_photos-96px.py')
    probe = tiny_demo_config(tmp_path, photo_dataset,
                             'vit-micro-p16_1xb32-linear_photos-96px.py')
    work_dir = tmp_path / 'compare'
    example = osp.join(photo_dataset, 'val', 'coffee', '000.png')
    done = subprocess.run(
        [sys.executable,
         osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                  'compare_pretraining.py'), '--runs', f'SimMIM={simmim}',
         f'PixMIM={pixmim}', '--probe-config', probe, '--work-dir',
         str(work_dir), '--cfg-options', 'train_cfg.max_epochs=2',
         '--seed', '3', '--examples', example],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((work_dir / 'results.json').read_text())
    assert results['settings']['seeds'] == [3]
    assert [r['name'] for r in results['runs']] == ['SimMIM', 'PixMIM']
    for run in results['runs']:  # the tiny configs' k-NN, after epoch 2
        assert run['knn_epoch'] == [2] and 0 <= run['knn_top1'] <= 100
    table = (work_dir / 'results.md').read_text().splitlines()
    assert len(table) == 4 and table[2].startswith('| SimMIM |')
    assert osp.getsize(work_dir / 'comparison.png') > 10_000
    # Both runs were trained with the shared seed.
    for name in ('SimMIM', 'PixMIM'):
        log = (work_dir / name / 'seed3' / 'pretrain.log').read_text()
        assert 'seed = 3' in log or 'seed=3' in log


@pytest.mark.slow
def test_overrides_sweep_seeds_skip_and_probe_only(tmp_path, photo_dataset):
    simmim = tiny_demo_config(tmp_path, photo_dataset,
                              'simmim_vit-micro_1xb32_photos-96px.py')
    probe = tiny_demo_config(tmp_path, photo_dataset,
                             'vit-micro-p16_1xb32-linear_photos-96px.py')
    work_dir = tmp_path / 'sweep'
    tool = [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                                     'compare_pretraining.py'),
            '--probe-config', probe, '--work-dir', str(work_dir)]
    sweep = tool + [
        '--runs', f'SimMIM={simmim}', f'Other={simmim}',
        '--run-cfg-options', 'Other', 'optim_wrapper.optimizer.lr=0.0042',
        '--sweep', 'optim_wrapper.optimizer.weight_decay=0.05,0.1',
        '--seeds', '0', '1', '--cfg-options', 'train_cfg.max_epochs=2']
    first = subprocess.run(sweep, capture_output=True, text=True,
                           timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    results = json.loads((work_dir / 'results.json').read_text())
    names = [r['name'] for r in results['runs']]
    assert names == ['SimMIM-weight_decay=0.05', 'SimMIM-weight_decay=0.1',
                     'Other-weight_decay=0.05', 'Other-weight_decay=0.1']
    for run in results['runs']:
        assert run['seeds'] == [0, 1] and len(run['per_seed']) == 2
        tops = [r['top1'] for r in run['per_seed']]
        assert run['top1'] == pytest.approx(sum(tops) / 2)
        assert run['top1_std'] == pytest.approx(abs(tops[0] - tops[1]) /
                                                2**0.5)
    # The per-run override reached only its run; the sweep reached each.
    log = (work_dir / 'Other-weight_decay=0.1' / 'seed1' /
           'pretrain.log').read_text()
    assert 'lr=0.0042' in log and 'weight_decay=0.1' in log
    assert 'lr=0.0042' not in (work_dir / 'SimMIM-weight_decay=0.1' /
                               'seed1' / 'pretrain.log').read_text()
    table = (work_dir / 'results.md').read_text()
    assert 'mean ± sd over 2 seeds' in table and ' ± ' in table

    # Again: every stage finished before, so nothing is trained.
    again = subprocess.run(sweep, capture_output=True, text=True,
                           timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count('finished before') == 16
    assert json.loads((work_dir / 'results.json').read_text()) == results

    # Other settings in the same work dir: refused, naming what differs.
    other = subprocess.run(
        [a.replace('=0.05,0.1', '=0.05,0.2') for a in sweep],
        capture_output=True, text=True, timeout=900)
    assert other.returncode != 0
    assert f'{work_dir} holds a comparison with other settings: runs:' in \
        other.stderr
    assert json.loads((work_dir / 'results.json').read_text()) == results

    # Probe-only, over two seeds: an existing checkpoint, e.g. a converted
    # released one. Its pre-training loss and time do not exist: "-".
    checkpoint = results['runs'][0]['per_seed'][0]['checkpoint']
    probe_only = subprocess.run(
        tool[:-1] + [str(tmp_path / 'probe_only'), '--checkpoints',
                     f'Released={checkpoint}', '--seeds', '0', '1'],
        capture_output=True, text=True, timeout=900)
    assert probe_only.returncode == 0, probe_only.stderr[-3000:]
    (row, ) = json.loads(
        (tmp_path / 'probe_only' / 'results.json').read_text())['runs']
    assert row['name'] == 'Released' and row['loss'] == []
    assert row['seeds'] == [0, 1] and 0 <= row['top1'] <= 100
    (line, ) = [line for line in (tmp_path / 'probe_only' /
                                  'results.md').read_text().splitlines()
                if line.startswith('| Released |')]
    cells = [cell.strip() for cell in line.strip('|').split('|')]
    # Loss, k-NN during pre-training, pre-training time.
    assert cells[1] == cells[2] == cells[5] == '-'
    assert ' ± ' in cells[3]  # probe top-1 over the two seeds
