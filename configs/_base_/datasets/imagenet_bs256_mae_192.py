# ImageNet-1k pre-training data for MAE at 192 px: MMPretrain's MAE
# augmentation (random resized crop, scale 0.2-1, bicubic, horizontal flip).
_base_ = ['./imagenet_bs256_simmim-p16_192.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=192,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
