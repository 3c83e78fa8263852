import os.path as osp
import subprocess
import sys

import torch
from conftest import CONFIG_DIR, REPO_ROOT, load_tool, tiny_model_config


def test_the_checkpoint_holds_what_a_stopped_run_writes():
    tool = load_tool('analysis_tools', 'benchmark_checkpoint_save.py')
    cfg = tiny_model_config('kamim_vit-base_8xb256_in1k.py')
    checkpoint = tool.filled_checkpoint(cfg)
    weights = checkpoint['state_dict']
    state = checkpoint['optimizer']['state']
    # AdamW's two moments for every parameter, as after a training step.
    assert len(state) == sum(1 for k in weights if 'data_preprocessor'
                             not in k)
    assert all(set(s) >= {'exp_avg', 'exp_avg_sq'} for s in state.values())
    assert all(isinstance(v, torch.Tensor) for v in weights.values())


def test_it_prints_a_table(tmp_path):
    done = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                                  'benchmark_checkpoint_save.py'),
         osp.join(CONFIG_DIR, 'demo', 'simmim_vit-micro_1xb32_photos-96px.py'),
         '--out-dir', str(tmp_path), '--rounds', '1'],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines()
             if line.startswith('|')]
    assert lines[0] == '| checkpoint | seconds to write | MB/s |'
    assert len(lines) == 3 and lines[2].endswith(' |')
    assert list(tmp_path.iterdir()) == []  # nothing left behind
