import json
import os.path as osp
import subprocess
import sys

from conftest import REPO_ROOT, tiny_demo_config


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
    assert results['seed'] == 3
    assert [r['name'] for r in results['runs']] == ['SimMIM', 'PixMIM']
    table = (work_dir / 'results.md').read_text().splitlines()
    assert len(table) == 4 and table[2].startswith('| SimMIM |')
    assert osp.getsize(work_dir / 'comparison.png') > 10_000
    # Both runs were trained with the shared seed.
    for name in ('SimMIM', 'PixMIM'):
        log = (work_dir / name / 'pretrain.log').read_text()
        assert 'seed = 3' in log or 'seed=3' in log
