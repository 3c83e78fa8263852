# imagenet_bs256_pixmim_192.py plus KAMIM's keypoint weights, computed on the
# uint8 crop after the flips (FAST, w_ps 8, T 0.25).
_base_ = ['./imagenet_bs256_pixmim_192.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/Resize', size=192),
    dict(
        type='torchvision/RandomCrop',
        size=192,
        padding=4,
        padding_mode='reflect'),
    dict(type='torchvision/RandomHorizontalFlip', p=0.5),
    dict(type='PILToNumpy', to_bgr=True),
    dict(
        type='KeypointDensity',
        detector='fast',
        rasterize='circle',
        patch_size=8,
        temperature=0.25),
    dict(type='PackInputs', algorithm_keys=['kp_weight']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
