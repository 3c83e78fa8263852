import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT, tiny_demo_config, tiny_vit_config
from mmengine.fileio import load


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # a tool process, about 20 s
def test_dist_train_runs_two_processes_on_cpu(tmp_path, image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHON=sys.executable)
    done = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', str(work_dir)],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    # mmengine reports the world size as its "GPU number".
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    checkpoint = torch.load(work_dir / 'iter_3.pth', weights_only=True)
    assert checkpoint['meta']['iter'] == 3


@pytest.mark.slow  # three training processes, about 40 s
def test_train_py_resumes_and_takes_cfg_options(tmp_path, image_folder):
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py')
    work_dir = str(tmp_path / 'work')
    train = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config,
             '--work-dir', work_dir]
    first = subprocess.run(
        train + ['--vis-backend', 'tensorboard', '--vis-backend', 'wandb'],
        env=dict(os.environ, WANDB_MODE='offline'), capture_output=True,
        text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    # TensorBoard events and an offline W&B run beside mmengine's scalars.
    vis = glob.glob(osp.join(work_dir, '*', 'vis_data'))
    assert len(vis) == 1
    assert glob.glob(osp.join(vis[0], 'events.out.tfevents.*'))
    assert glob.glob(osp.join(vis[0], 'wandb', 'offline-run-*', '*.wandb'))
    assert osp.isfile(osp.join(vis[0], 'scalars.json'))
    second = subprocess.run(
        train + ['--resume', '--keypoints-in-pipeline', '--cfg-options',
                 'train_cfg.max_iters=4',
                 'model.data_preprocessor.temperature=0.1'],
        capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    log = second.stdout + second.stderr
    assert 'resumed epoch: 0, iter: 3' in log
    # The device path's settings moved to the CPU transform.
    assert "type='KeypointDensity'" in log and 'temperature=0.1' in log
    assert 'Iter(train) [4/4]' in log


@pytest.mark.slow
def test_test_py_evaluates_a_probe_checkpoint(tmp_path, photo_dataset,
                                               kamim_checkpoint):
    """train.py and test.py take num_workers=0 from the command line over a
    config with persistent workers; test.py's flags mean MMPretrain's."""
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'vit-micro-p16_1xb32-linear_photos-96px.py')
    work_dir = str(tmp_path / 'probe')
    tools = osp.join(REPO_ROOT, 'tools')
    no_workers = ['{}.num_workers=0', '{}.persistent_workers=True']
    trained = subprocess.run(
        [sys.executable, osp.join(tools, 'train.py'), config, '--work-dir',
         work_dir, '--cfg-options',
         f'model.backbone.init_cfg.checkpoint={kamim_checkpoint}'] +
        [o.format('train_dataloader') for o in no_workers],
        capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr[-3000:]
    test = [sys.executable, osp.join(tools, 'test.py'), config,
            osp.join(work_dir, 'epoch_2.pth'), '--work-dir', work_dir]
    # --out: the predictions, drawn with --show-dir.
    predictions = tmp_path / 'predictions.pkl'
    tested = subprocess.run(
        test + ['--out', str(predictions), '--show-dir',
                str(tmp_path / 'shown'), '--cfg-options'] +
        [o.format('test_dataloader') for o in no_workers],
        capture_output=True, text=True, timeout=300)
    assert tested.returncode == 0, tested.stderr[-3000:]
    results = load(predictions)
    assert len(results) == 36 and 'pred_score' in results[0]
    # (MMPretrain's hook names a drawing after its image's file name; the
    # photo dataset repeats those across classes.)
    assert glob.glob(str(tmp_path / 'shown' / '**' / '*.png'),
                     recursive=True)
    # --out-item metrics: the metrics; of flip test-time augmentation.
    metrics = tmp_path / 'metrics.json'
    tested = subprocess.run(
        test + ['--out', str(metrics), '--out-item', 'metrics', '--tta'],
        capture_output=True, text=True, timeout=300)
    assert tested.returncode == 0, tested.stderr[-3000:]
    result = json.loads(metrics.read_text())
    assert 0 <= result['accuracy/top1'] <= 100


def test_slurm_test_sh_launches_test_py_per_gpu(tmp_path):
    """With a stand-in srun that prints what it is asked to run."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text('#!/usr/bin/env bash\necho "$@"\n')
    (bin_dir / 'srun').chmod(0o755)
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='16')
    done = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'slurm_test.sh'), 'part',
         'job', 'cfg.py', 'ckpt.pth', '--out', 'preds.pkl'],
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '-p part --job-name=job --gres=gpu:8 --ntasks=16' in done.stdout
    assert done.stdout.rstrip().endswith(
        'tools/test.py cfg.py ckpt.pth --launcher=slurm --out preds.pkl')
