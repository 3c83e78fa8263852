"""ReproducibleSampler: per-sample randomness, resume, and distributed runs."""
import json
import os
import pickle
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, tiny_vit_config
from mmengine.registry import init_default_scope
from mmpretrain.datasets import CustomDataset

from mmkamim.datasets import ReproducibleSampler, SampleKey

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='SimMIMMaskGenerator', input_size=64, mask_patch_size=16,
         model_patch_size=16, mask_ratio=0.6),
]


def dataset(image_folder):
    init_default_scope('mmpretrain')
    return CustomDataset(data_root=image_folder, with_label=False,
                         pipeline=PIPELINE)


def draw(dataset, key):
    out = dataset[key]
    return out['img'].copy(), out['mask'].copy()


def test_a_sample_is_augmented_by_seed_epoch_and_index_only(image_folder):
    data = dataset(image_folder)
    sampler = ReproducibleSampler(data, seed=7)
    keys = list(sampler)
    assert sorted(int(k) for k in keys) == list(range(len(data)))
    assert all(k.seed == 7 and k.epoch == 0 for k in keys)
    # Whatever was drawn before, and whoever loads it, a key gives the same.
    first = draw(data, keys[0])
    np.random.seed(123)
    torch.manual_seed(123)
    draw(data, keys[1])
    again = draw(data, pickle.loads(pickle.dumps(keys[0])))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    # Another epoch augments the same image otherwise.
    other = draw(data, SampleKey(int(keys[0]), 7, 1))
    assert not np.array_equal(first[0], other[0])


def test_resume_skips_what_the_epoch_already_used(image_folder):
    data = dataset(image_folder)
    sampler = ReproducibleSampler(data, seed=3)
    sampler.set_epoch(1)
    full = [int(k) for k in sampler]
    sampler.resume(seed=3, epoch=1, position=5)
    assert len(sampler) == len(full) - 5
    assert [int(k) for k in sampler] == full[5:]
    sampler.set_epoch(2)
    assert len(sampler) == len(full)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


RECORDER = '''
import json, os
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

@HOOKS.register_module()
class RecordSamples(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        rank = os.environ.get('RANK', '0')
        rows = [[runner.iter, os.path.basename(s.img_path),
                 float(s.kp_weight.sum())]
                for s in data_batch['data_samples']]
        with open(os.path.join(runner.work_dir, f'rank{rank}.jsonl'),
                  'a') as f:
            f.write(json.dumps(rows) + '\\n')
'''


@pytest.mark.slow  # two training processes, about 35 s
def test_two_processes_equal_one_with_twice_the_batch(tmp_path,
                                                      image_folder):
    """2 CPU processes over gloo with batch 2 each: the same images, each
    with its own weights, and the same parameters as 1 process with batch 4
    (the keypoint weights computed by KeypointDensity in the workers)."""
    (tmp_path / 'record_samples.py').write_text(RECORDER)
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py', """
train_dataloader.update(num_workers=1, persistent_workers=True)
custom_imports = dict(imports=['mmkamim', 'record_samples'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook'),
                dict(type='ReproducibilityHook'), dict(type='RecordSamples')]
""")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS='1',
               PORT=str(free_port()), PYTHON=sys.executable)
    tools = os.path.join(REPO_ROOT, 'tools')
    runs = {}
    for nproc, batch in ((1, 4), (2, 2)):
        work = tmp_path / f'{nproc}proc'
        command = (['bash', os.path.join(tools, 'dist_train.sh'), config,
                    '2'] if nproc == 2 else
                   [sys.executable, os.path.join(tools, 'train.py'), config])
        options = ['--cfg-options', f'train_dataloader.batch_size={batch}']
        done = subprocess.run(
            command + ['--work-dir', str(work), '--keypoints-in-pipeline'] +
            options, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        seen = {}
        for rank in range(nproc):
            for line in (work / f'rank{rank}.jsonl').read_text().split('\n'):
                for it, name, weight in json.loads(line) if line else []:
                    seen.setdefault(it, {}).setdefault(rank, []).append(
                        (name, weight))
        runs[nproc] = (seen, torch.load(work / 'iter_3.pth',
                                        weights_only=True)['state_dict'])
    (one, params_one), (two, params_two) = runs[1], runs[2]
    for it in one:
        ranks = [dict(two[it][rank]) for rank in (0, 1)]
        # Each process sees other images; together, the single process's,
        # each with the same keypoint weights.
        assert not set(ranks[0]) & set(ranks[1])
        assert {**ranks[0], **ranks[1]} == dict(one[it][0])
    for key, value in params_one.items():
        torch.testing.assert_close(params_two[key], value, rtol=1e-4,
                                   atol=1e-6)
