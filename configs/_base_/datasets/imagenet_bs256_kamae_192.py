# imagenet_bs256_mae_192.py plus KAMIM's keypoint weights, computed on the
# uint8 crop after the flips (FAST, w_ps 8, T 0.25).
_base_ = ['./imagenet_bs256_mae_192.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=192,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='KeypointDensity',
        detector='fast',
        rasterize='circle',
        patch_size=8,
        temperature=0.25),
    dict(type='PackInputs', algorithm_keys=['kp_weight']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
