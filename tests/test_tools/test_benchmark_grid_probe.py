import os.path as osp
import subprocess
import sys

from conftest import CONFIG_DIR, REPO_ROOT


def test_it_prints_a_table_of_the_grid_against_one_probe():
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                                  'benchmark_grid_probe.py'),
         osp.join(CONFIG_DIR, 'demo',
                  'vit-micro-p16_1xb32-linear-grid_photos-96px.py'),
         '--batch', '4', '--rounds', '1', '--steps', '1'],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines()
            if line.startswith('|')]
    assert rows[0] == '| model | heads | s / step | vs single |'
    assert rows[2].startswith('| single probe at block 6 | 1 | ')
    assert rows[3].startswith('| grid | 18 | ')
