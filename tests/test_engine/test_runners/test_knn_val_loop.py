import random

import numpy as np
import pytest
import torch
from conftest import CONFIG_DIR, build_runner, config_path, tiny_demo_config
from mmengine.config import Config

from mmkamim.utils.errors import UsageError


def trained_parameters(tmp_path, photo_dataset, knn: bool, extra=''):
    config = tiny_demo_config(
        tmp_path, photo_dataset, 'simmim_vit-micro_1xb32_photos-96px.py',
        extra + ('\nval_cfg.update(interval=1)' if knn else
                 '\nval_cfg = None\nval_dataloader = None\n'
                 'val_evaluator = None'))
    runner = build_runner(Config.fromfile(config), tmp_path / f'knn{knn}')
    runner.train()
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_the_evaluation_leaves_the_training_untouched(tmp_path,
                                                      photo_dataset):
    # After each of 2 epochs the encoder is evaluated (eval mode, its own
    # dataloaders); the next epoch trains exactly as without it: drop path
    # and the sampler draw from the same generators. (A worker process
    # runs the seeded pipeline, which would otherwise reseed this process's
    # generators sample by sample.)
    extra = ("model['backbone']['drop_path_rate'] = 0.1\n"
             "train_dataloader['num_workers'] = 1")
    on = trained_parameters(tmp_path, photo_dataset, True, extra)
    off = trained_parameters(tmp_path, photo_dataset, False, extra)
    assert on.keys() == off.keys()
    for name in on:
        assert torch.equal(on[name], off[name]), name


def test_the_evaluation_draws_from_no_global_generator(tmp_path,
                                                     photo_dataset):
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'simmim_vit-micro_1xb32_photos-96px.py')
    runner = build_runner(Config.fromfile(config), tmp_path / 'work')
    loop = runner.build_val_loop(runner._val_loop)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(),
              random.getstate())
    loop.run()
    assert torch.equal(torch.get_rng_state(), before[0])
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert random.getstate() == before[2]


def test_a_float16_bank_is_normalised_and_kept_in_float16_batch_by_batch(
        tmp_path, photo_dataset):
    """The bank is never held in float32 whole: each batch is normalised,
    then stored in float16; the queries stay float32."""
    figures = {}
    for dtype in ('float32', 'float16'):
        config = tiny_demo_config(
            tmp_path, photo_dataset, 'simmim_vit-micro_1xb32_photos-96px.py',
            f"val_evaluator.update(bank_dtype='{dtype}')")
        runner = build_runner(Config.fromfile(config), tmp_path / dtype)
        loop = runner.build_val_loop(runner._val_loop)
        handed = []
        score = loop.metric.evaluate_features
        loop.metric.evaluate_features = (
            lambda bank, queries, handed=handed, score=score:
            handed.append((bank, queries)) or score(bank, queries))
        figures[dtype] = loop.run()
        ((bank, queries), ) = handed
        assert bank.features.dtype == getattr(torch, dtype)
        assert queries.features.dtype == torch.float32
        torch.testing.assert_close(
            bank.features.float().norm(dim=1), torch.ones(len(bank.indices)),
            rtol=0, atol=1e-3)
    # float16 may round a vote the other way, no more: 36 queries.
    for name, value in figures['float32'].items():
        assert abs(figures['float16'][name] - value) <= 2 * 100 / 36, name


def test_metrics_reach_the_hooks_every_interval_and_after_the_last(
        tmp_path, photo_dataset):
    config = tiny_demo_config(
        tmp_path, photo_dataset, 'simmim_vit-micro_1xb32_photos-96px.py',
        "train_cfg = dict(max_epochs=3)\n"
        "val_cfg.update(interval=2)\n"
        "default_hooks = dict(checkpoint=dict(interval=3, "
        "save_best='knn/top1', rule='greater'))")
    runner = build_runner(Config.fromfile(config), tmp_path / 'work')
    seen = []
    original = runner.val_loop.metric.evaluate_features

    def record(bank, queries):
        metrics = original(bank, queries)
        seen.append((runner.epoch, len(bank.indices), len(queries.indices),
                     metrics))
        return metrics

    runner.val_loop.metric.evaluate_features = record
    runner.train()
    assert [s[:3] for s in seen] == [(2, 54, 36), (3, 54, 36)]
    metrics = seen[-1][3]
    assert set(metrics) == {
        'knn/top1', 'knn/top5', 'knn/top1_k5', 'knn/top5_k5',
        'knn/top1_k20', 'knn/top5_k20'
    }
    assert metrics['knn/top1'] == metrics['knn/top1_k20']
    # CheckpointHook(save_best=...) read them as from any validation.
    best = sorted(p.name for p in (tmp_path / 'work').glob('best_*.pth'))
    assert len(best) == 1 and best[0].startswith('best_knn_top1_epoch_')


def test_settings_that_cannot_work_stop_before_training(tmp_path,
                                                        photo_dataset):
    def build(extra):
        config = tiny_demo_config(tmp_path, photo_dataset,
                                  'simmim_vit-micro_1xb32_photos-96px.py',
                                  extra)
        runner = build_runner(Config.fromfile(config), tmp_path / 'bad')
        return runner.build_val_loop(runner._val_loop)

    with pytest.raises(UsageError, match=r'k=\[100\] for a bank of 54'):
        build('val_evaluator = dict(ks=(20, 100))')
    with pytest.raises(UsageError, match='reported_k=20 is not among'):
        build('val_evaluator = dict(ks=(5, 10))')
    with pytest.raises(UsageError, match='interval must be >= 1, got 0'):
        build('val_cfg.update(interval=0)')
    with pytest.raises(UsageError, match="val_evaluator=dict\\(type='KNN"):
        build("val_evaluator = dict(_delete_=True, type='Accuracy')")
    # A bank without labels is found at the first batch.
    loop = build("val_cfg['bank_dataloader']['dataset']['with_label'] = "
                 'False')
    with pytest.raises(UsageError, match='has no class label'):
        loop.run()


def test_a_swin_with_the_vit_recipe_stops_at_start_up(tmp_path,
                                                      photo_dataset):
    """The ViT k-NN recipe (a block to read) added to a Swin config: the
    run stops when the loop is built, before training, naming the setting
    (it failed at the first evaluation, epochs in)."""
    path = config_path(tmp_path, 'swin_knn')
    path.write_text(f"""
_base_ = [{CONFIG_DIR + '/simmim_swin-tiny-w6_8xb256_in1k.py'!r},
          {CONFIG_DIR + '/_base_/datasets/photos_knn_96px.py'!r}]
val_dataloader = dict(dataset=dict(data_root={photo_dataset!r}))
val_cfg = dict(bank_dataloader=dict(dataset=dict(
    data_root={photo_dataset!r})))
val_evaluator = dict(ks=(5, 20))
""")
    cfg = Config.fromfile(str(path))
    runner = build_runner(cfg, tmp_path / 'swin')
    with pytest.raises(UsageError, match=r'^val_cfg\.layers=\(4,\) reads '
                       r'ViT blocks, but a SimMIMSwinTransformer is read at '
                       r'its last stage: set val_cfg\.layers=None$'):
        runner.build_val_loop(runner._val_loop)
    cfg = Config.fromfile(str(path))
    cfg.val_cfg.layers = None
    runner = build_runner(cfg, tmp_path / 'swin_last_stage')
    assert runner.build_val_loop(runner._val_loop).layers is None


def test_a_block_the_vit_does_not_have_stops_at_start_up(tmp_path,
                                                         photo_dataset):
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'simmim_vit-micro_1xb32_photos-96px.py',
                              'val_cfg.update(layers=(8, ))')
    runner = build_runner(Config.fromfile(config), tmp_path / 'work')
    with pytest.raises(UsageError, match=r'val_cfg\.layers=\[8\]: this '
                       r'SimMIMViT has blocks 1 to 2'):
        runner.build_val_loop(runner._val_loop)
