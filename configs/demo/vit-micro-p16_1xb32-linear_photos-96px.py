# Linear probe of the demo ViT (kamim_/simmim_vit-micro_1xb32_photos-96px.py)
# on the embedded photo dataset: the recipe of
# ../benchmarks/vit-base-p16_8xb256-linear-coslr-100e_in1k.py (frozen
# backbone, average-pooled patch tokens, one linear layer, TrivialAugment,
# RandomErasing, MixUp/CutMix) shrunk like the demo pre-training: 96 px,
# batch 32, 18 classes (one per photo), the 4th of 6 blocks (2/3 of the
# depth, as the 8th of 12 in the paper), 1 + 29 epochs.
_base_ = ['../benchmarks/vit-base-p16_8xb256-linear-coslr-100e_in1k.py']

img_size = 96
num_classes = 18
data_root = 'data/photos'

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=6,
            num_heads=4,
            feedforward_channels=512),
        img_size=img_size,
        out_indices=3),
    head=dict(num_classes=num_classes, in_channels=128))

data_preprocessor = dict(num_classes=num_classes)

# The recipe's pipelines at 96 px.
train_pipeline = _base_.train_pipeline
train_pipeline[1] = dict(type='Resize', scale=(img_size, img_size))
test_pipeline = _base_.test_pipeline
test_pipeline[1] = dict(type='Resize', scale=(img_size, img_size))

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    pin_memory=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 30
optim_wrapper = dict(optimizer=dict(lr=5e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=2.5e-6 / 5e-3,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        eta_min=2.5e-6,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
