import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from conftest import CONFIG_DIR, REPO_ROOT, config_path, tiny_demo_config

TOOLS = osp.join(REPO_ROOT, 'tools', 'benchmarks')


def knn_eval(config, checkpoint, work_dir, *extra, nproc=1):
    if nproc == 1:
        command = [sys.executable, osp.join(TOOLS, 'knn_eval.py')]
        args = [config, checkpoint]
    else:
        command = ['bash', osp.join(TOOLS, 'dist_knn_eval.sh')]
        args = [config, checkpoint, str(nproc)]
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT=str(29600 + os.getpid() % 1000))
    return subprocess.run(
        command + args + ['--work-dir', str(work_dir), *extra],
        capture_output=True, text=True, timeout=600, env=env)


def test_a_checkpoint_gets_a_table_and_a_json_record(tmp_path, photo_dataset,
                                                     kamim_checkpoint):
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'vit-micro-p16_1xb32-knn_photos-96px.py')
    done = knn_eval(config, kamim_checkpoint, tmp_path / 'knn')
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Progress while extracting, then the table.
    assert 'k-NN bank: batch 1/1' in done.stdout
    assert '| k | top-1 (%) | top-5 (%) |' in done.stdout
    assert '| 5 |' in done.stdout and '| 20 |' in done.stdout
    record = json.loads((tmp_path / 'knn' / 'knn.json').read_text())
    assert record['checkpoint'] == kamim_checkpoint
    metrics = record['metrics']
    assert metrics['knn/top1'] == metrics['knn/top1_k20']
    assert all(0 <= v <= 100 for v in metrics.values())
    assert record['settings'] | dict(
        mean=None, std=None) == dict(
            layers='last', token='patch_mean', mean=None, std=None,
            to_rgb=False, fp16=False, bank_images=54, query_images=36,
            ks=[5, 20], tau=0.07, reported_k=20, bank_dtype='float32')


def test_a_checkpoint_of_another_size_stops(tmp_path, photo_dataset,
                                            kamim_checkpoint):
    # The full-size demo ViT (128 dims) from the tiny (32 dims) checkpoint.
    config = config_path(tmp_path, 'knn_demo')
    config.write_text(f"""
_base_ = [{osp.join(CONFIG_DIR, 'demo',
                    'vit-micro-p16_1xb32-knn_photos-96px.py')!r}]
val_dataloader = dict(dataset=dict(data_root={photo_dataset!r}))
val_cfg = dict(bank_dataloader=dict(dataset=dict(data_root={photo_dataset!r})))
val_evaluator = dict(ks=(5, 20))
""")
    done = knn_eval(str(config), kamim_checkpoint, tmp_path / 'knn')
    assert done.returncode != 0
    assert 'does not fill the LinearProbeViT backbone' in done.stderr
    assert not (tmp_path / 'knn' / 'knn.json').exists()


def subset_dataset(root, photo_dataset, split, count):
    """A list of the first ``count`` images of a split (ann_file)."""
    classes = sorted(os.listdir(osp.join(photo_dataset, split)))
    lines = [f'{split}/{c}/{name} {label}'
             for label, c in enumerate(classes)
             for name in sorted(os.listdir(osp.join(photo_dataset, split, c)))]
    path = root / f'{split}_{count}.txt'
    path.write_text('\n'.join(lines[:count]) + '\n')
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize('round_up', [True, False])
def test_two_processes_score_as_one(tmp_path, photo_dataset,
                                    kamim_checkpoint, round_up):
    # Odd sizes: the samplers pad each rank's share with repeats, which
    # must be neither counted twice in the bank nor scored twice; with
    # round_up=False the ranks' shares differ in length (gloo's gather
    # failed on them: "Received data size doesn't match").
    bank = subset_dataset(tmp_path, photo_dataset, 'train', 37)
    queries = subset_dataset(tmp_path, photo_dataset, 'val', 23)
    config = tiny_demo_config(
        tmp_path, photo_dataset, 'vit-micro-p16_1xb32-knn_photos-96px.py',
        f"val_dataloader['dataset'].update(ann_file={queries!r}, "
        "data_prefix='')\n"
        f"val_cfg['bank_dataloader']['dataset'].update(ann_file={bank!r}, "
        "data_prefix='')\n"
        "val_dataloader['batch_size'] = 4\n"
        "val_cfg['bank_dataloader']['batch_size'] = 8\n"
        "val_evaluator['ks'] = (1, 5, 20)\n"
        f"val_dataloader['sampler'] = dict(round_up={round_up})\n"
        f"val_cfg['bank_dataloader']['sampler'] = dict(round_up={round_up})")
    results = []
    for nproc in (1, 2):
        done = knn_eval(config, kamim_checkpoint, tmp_path / f'knn{nproc}',
                        nproc=nproc)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        record = json.loads(
            (tmp_path / f'knn{nproc}' / 'knn.json').read_text())
        assert record['settings']['bank_images'] == 37
        assert record['settings']['query_images'] == 23
        results.append(record['metrics'])
    assert results[0] == results[1]
