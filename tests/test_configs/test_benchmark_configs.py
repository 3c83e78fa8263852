import glob
import os.path as osp

import pytest
import torch
from conftest import CONFIG_DIR, build_runner, tiny_demo_config
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.utils.weight_fill import weight_fill

CONFIGS = sorted(
    osp.basename(p)
    for p in glob.glob(osp.join(CONFIG_DIR, 'benchmarks', '*.py')))
# The k-NN configs train nothing: they read their probe's features.
KNN = [name for name in CONFIGS if '-knn_' in name]
BENCHMARKS = [name for name in CONFIGS if name not in KNN]


def load(name):
    return Config.fromfile(osp.join(CONFIG_DIR, 'benchmarks', name))


def test_every_backbone_has_probe_ln_probe_and_finetune():
    for backbone in ('vit-tiny-p16', 'vit-small-p16', 'vit-base-p16',
                     'swin-tiny-w6', 'swin-base-w6'):
        for mode in ('linear', 'linear-ln', 'finetune'):
            assert (f'{backbone}_8xb256-{mode}-coslr-100e_in1k.py'
                    in BENCHMARKS)
    for data in ('cifar10', 'cifar100', 'inat2021', 'places365'):
        for mode in ('linear', 'finetune'):
            assert f'vit-base-p16_8xb256-{mode}-coslr-100e_{data}.py' in \
                BENCHMARKS
    # Beside every fine-tune config, its layer-decay / drop-path variant.
    finetunes = [n for n in BENCHMARKS if '-finetune-coslr-' in n]
    variants = [n for n in BENCHMARKS if '-finetune-lrdecay-droppath-' in n]
    assert len(finetunes) == 9 and sorted(variants) == sorted(
        n.replace('-finetune-', '-finetune-lrdecay-droppath-')
        for n in finetunes)


@pytest.mark.parametrize('name', BENCHMARKS)
def test_benchmark_follows_the_paper(name):
    cfg = load(name)
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.weight_decay,
            tuple(optim.betas)) == ('AdamW', 5e-3, 0.05, (0.9, 0.999))
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end) == (10, 10, 110)
    # Released scripts: plain AdamW on every parameter, clipping at 1.0.
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=1.0)
    assert cfg.train_cfg.max_epochs == 110
    assert cfg.train_dataloader.batch_size * 8 == 2048
    steps = {s.type: s for s in cfg.train_pipeline}
    assert steps['torchvision/TrivialAugmentWide'].num_magnitude_bins == 31
    erasing = steps['torchvision/RandomErasing']
    assert (erasing.p, tuple(erasing.scale),
            tuple(erasing.ratio)) == (0.5, (0.02, 0.33), (0.3, 3.3))
    assert steps['Resize'].scale == (192, 192)
    batch = cfg.data_preprocessor.batch_augments
    assert [a.type for a in batch.augments] == ['Mixup', 'CutMix']
    assert list(batch.probs) == [0.5, 0.5]
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    assert 'CheckPretrainedHook' in [h.type for h in cfg.custom_hooks]
    backbone = cfg.model.backbone
    if '-linear' in name:
        vit = name.startswith('vit')
        assert backbone.type == ('LinearProbeViT' if vit else
                                 'LinearProbeSwin')
        assert (backbone.out_indices == 7) if vit else \
            tuple(backbone.out_indices) == (3, )
        if not vit:
            assert backbone.out_norm is False
        assert cfg.model.neck.type == ('LayerNormNeck' if '-linear-ln' in name
                                       else 'GlobalAveragePooling')
        if '-linear-ln' in name:
            assert cfg.model.neck.get('mode', 'tokens') == 'tokens'
            assert cfg.model.neck.num_tokens == (144 if vit else 36)
    elif '-lrdecay-droppath-' in name:
        assert backbone.drop_path_rate == 0.1
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    else:
        assert backbone.drop_path_rate == 0.0
        assert 'paramwise_cfg' not in cfg.optim_wrapper
        assert 'constructor' not in cfg.optim_wrapper
    init_default_scope('mmpretrain')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    if cfg.model.type == 'GridProbeClassifier':
        # 4 blocks x 2 norms x 5 learning rates, the probe's own among them.
        sample = model.predict(torch.zeros(1, 3, 192, 192))[0]
        assert sample.grid_scores.shape == (40, 1000)
        assert model.names[model.headline] == 'b8_none_lr0.005'
        return
    width = cfg.model.head.in_channels
    assert model.extract_feat(torch.zeros(1, 3, 192, 192))[0].shape == (
        1, width)


@pytest.mark.parametrize('name', KNN)
def test_knn_reads_its_probes_features_of_train_and_val(name):
    cfg = load(name)
    probe = load(name.replace('-knn_', '-linear-coslr-100e_'))
    assert cfg.model == probe.model
    assert cfg.val_dataloader == probe.val_dataloader
    bank = cfg.val_cfg.bank_dataloader
    assert bank.dataset.pipeline == probe.test_pipeline
    assert bank.sampler == dict(type='DefaultSampler', shuffle=False)
    queries = cfg.val_dataloader.dataset
    if 'split' in queries:
        assert (bank.dataset.split, queries.split) in (('train', 'val'),
                                                       ('train', 'test'))
    assert cfg.val_cfg.type == 'KNNValLoop'
    assert cfg.val_evaluator.type == 'KNNAccuracy'


def test_probe_feature_is_the_pooled_8th_block():
    torch.manual_seed(0)
    cfg = load('vit-tiny-p16_8xb256-linear-coslr-100e_in1k.py')
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone
    x = torch.randn(2, 3, 192, 192)
    with torch.no_grad():
        tokens, _ = backbone.patch_embed(x)
        tokens = torch.cat([backbone.cls_token.expand(2, -1, -1), tokens], 1)
        tokens = tokens + backbone.pos_embed
        for block in backbone.layers[:8]:
            tokens = block(tokens)
        expected = tokens[:, 1:].mean(1)
    (feature, ) = model.extract_feat(x)
    assert feature.shape == (2, 192)
    torch.testing.assert_close(feature, expected)


class ModeRecorder(Hook):
    """The head's initial weights, and whether any backbone module was in
    training mode during a training iteration."""

    def __init__(self):
        self.backbone_training = []
        self.head = None

    def before_train(self, runner):
        self.head = runner.model.head.fc.weight.detach().clone()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        assert model.training
        self.backbone_training.append(
            any(m.training for m in model.backbone.modules()))


def probe_runner(tmp_path, photo_dataset, checkpoint):
    cfg = Config.fromfile(
        tiny_demo_config(tmp_path, photo_dataset,
                         'vit-micro-p16_1xb32-linear_photos-96px.py'))
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    return build_runner(cfg, tmp_path / 'probe')


def test_kamim_checkpoint_fills_every_probe_weight(tmp_path, photo_dataset,
                                                   kamim_checkpoint):
    runner = probe_runner(tmp_path, photo_dataset, kamim_checkpoint)
    state = torch.load(kamim_checkpoint, weights_only=True)['state_dict']
    fill = weight_fill(runner.model.backbone, state, 'backbone.')
    assert fill.missing == fill.mismatched == fill.allowed == []
    assert len(fill.filled) == len(
        list(runner.model.backbone.parameters()))


def test_probe_trains_only_the_head(tmp_path, photo_dataset,
                                    kamim_checkpoint):
    runner = probe_runner(tmp_path, photo_dataset, kamim_checkpoint)
    recorder = ModeRecorder()
    runner.register_hook(recorder)
    runner.train()
    pretrained = torch.load(kamim_checkpoint, weights_only=True)['state_dict']
    backbone = runner.model.backbone.state_dict()
    for key, value in backbone.items():
        torch.testing.assert_close(value, pretrained[f'backbone.{key}'],
                                   rtol=0, atol=0)
    assert recorder.backbone_training and not any(recorder.backbone_training)
    assert not any(p.requires_grad
                   for p in runner.model.backbone.parameters())
    assert not torch.equal(runner.model.head.fc.weight, recorder.head)
    assert runner.message_hub.get_scalar('val/accuracy/top1') is not None


def test_probe_refuses_a_checkpoint_of_another_model(tmp_path,
                                                     photo_dataset):
    from mmpretrain.models import SwinTransformer
    swin = tmp_path / 'swin.pth'
    torch.save(
        dict(state_dict={
            f'backbone.{k}': v
            for k, v in SwinTransformer(arch='tiny').state_dict().items()
        }), swin)
    runner = probe_runner(tmp_path, photo_dataset, str(swin))
    with pytest.raises(ValueError, match='does not fill the LinearProbeViT'):
        runner.train()


def test_probe_without_checkpoint_says_how_to_set_it(tmp_path,
                                                      photo_dataset):
    runner = probe_runner(tmp_path, photo_dataset, None)
    with pytest.raises(ValueError,
                       match='model.backbone.init_cfg.checkpoint=PATH'):
        runner.train()
