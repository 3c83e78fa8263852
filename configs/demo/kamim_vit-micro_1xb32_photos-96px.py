# KAMIM twin of simmim_vit-micro_1xb32_photos-96px.py: the same model, data
# and schedule, plus keypoint weights (w_ps 8, T 0.25, FAST).
_base_ = ['./simmim_vit-micro_1xb32_photos-96px.py']

model = dict(
    type='KAMIM',
    head=dict(
        type='KAMIMHead', loss=dict(type='WeightedPixelReconstructionLoss')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.)),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='SimMIMMaskGenerator',
        input_size={{_base_.img_size}},
        mask_patch_size=16,
        model_patch_size=16,
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
