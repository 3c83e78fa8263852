# Demo-size SimMIM: the ViT recipe of ../simmim_vit-base_8xb256_in1k.py shrunk
# to run on a laptop CPU in minutes, on the embedded photo dataset
# (tools/dataset_converters/make_photo_dataset.py writes it to data/photos).
# Changes from the paper's setting: a 6-layer, 128-dim ViT; 96 px inputs
# (36 tokens of 16 px); 16 px mask patches (the paper's 32 px at 192 px,
# scaled with the image); batch 32; 1 warm-up epoch; lr 1.5e-3. A k-NN
# evaluation of the encoder every 10 epochs (../_base_/datasets/
# photos_knn_96px.py).
_base_ = [
    '../simmim_vit-base_8xb256_in1k.py',
    '../_base_/datasets/photos_knn_96px.py'
]

img_size = 96
data_root = 'data/photos'

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=128,
            num_layers=6,
            num_heads=4,
            feedforward_channels=512),
        img_size=img_size),
    neck=dict(in_channels=128))

# The paper's pipeline at 96 px, with 16 px mask patches.
train_pipeline = _base_.train_pipeline
train_pipeline[1]['scale'] = img_size  # RandomResizedCrop
train_pipeline[4].update(input_size=img_size, mask_patch_size=16)

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        with_label=False,
        pipeline=train_pipeline))

max_epochs = 40
optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 1.5e-3,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        eta_min=1e-5,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
