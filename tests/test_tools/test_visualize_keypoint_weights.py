"""The weight-map viewer draws what training computes, on both paths."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from conftest import CONFIG_DIR, REPO_ROOT
from mmengine.config import Config

from mmkamim.analysis import keypoint_view, trace_pipeline
from mmkamim.datasets.transforms import KeypointDensity
from mmkamim.utils import keypoints_in_pipeline

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                'visualize_keypoint_weights.py')


@pytest.mark.parametrize('on_device', [True, False])
def test_the_view_is_what_training_computes(image_folder, on_device):
    cfg = Config.fromfile(osp.join(CONFIG_DIR,
                                   'kamim_vit-base_8xb256_in1k.py'))
    if not on_device:
        keypoints_in_pipeline(cfg)
    path = osp.join(image_folder, 'astronaut.png')
    trace = trace_pipeline(cfg, path, seed=1)
    view = keypoint_view(cfg, trace)
    names = [name for name, _ in trace['stages']]
    assert names[0] == 'LoadImageFromFile' and names[-1] == 'PackInputs'
    # The same weights KeypointDensity gives the image the model sees.
    bgr = trace['packed']['inputs'].numpy().transpose(1, 2, 0).copy()
    expected = KeypointDensity().transform({'img': bgr})['kp_weight']
    assert np.array_equal(view['kp_weight'], expected)
    assert view['keypoint_map'].shape == (192, 192)
    assert len(view['points']) > 50 and view['mask'].shape == (192, 192)
    assert ('device' in view['source']) == on_device


@pytest.mark.slow  # a tool process, about 20 s
def test_tool_writes_figures_and_numbers(tmp_path, image_folder):
    images = [osp.join(image_folder, 'coffee.png'), image_folder]
    done = subprocess.run(
        [sys.executable, TOOL,
         osp.join(CONFIG_DIR, 'kamim_vit-tiny_8xb256_in1k.py'), '--images',
         *images, '--out-dir', str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / 'keypoint_weights.json').read_text())
    assert len(summary['images']) == 9  # coffee, then the folder's 8
    for entry in summary['images']:
        assert osp.getsize(entry['figure']) > 10_000
        assert entry['weight_min'] == 1.0 and entry['keypoints'] > 0
    missing = subprocess.run(
        [sys.executable, TOOL, osp.join(CONFIG_DIR,
                                        'simmim_vit-tiny_8xb256_in1k.py'),
         '--images', str(tmp_path / 'nope.jpg'), '--out-dir',
         str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0
    assert f'no such image or folder: {tmp_path / "nope.jpg"}' in \
        missing.stderr
