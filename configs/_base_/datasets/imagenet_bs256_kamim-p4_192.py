# The same pipeline as imagenet_bs256_kamim-p16_192.py for Swin, whose 4 px
# patches make the mask generator's mask 48 x 48.
_base_ = ['./imagenet_bs256_kamim-p16_192.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=192,
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.)),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='SimMIMMaskGenerator',
        input_size=192,
        mask_patch_size=32,
        model_patch_size=4,
        mask_ratio=0.6),
    dict(
        type='KeypointDensity',
        detector='fast',
        rasterize='circle',
        patch_size=8,
        temperature=0.25),
    dict(type='PackInputs', algorithm_keys=['kp_weight']),
]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
