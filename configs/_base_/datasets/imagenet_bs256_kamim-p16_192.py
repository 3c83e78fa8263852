# KAMIM's twin of imagenet_bs256_simmim-p16_192.py: the same pipeline plus
# keypoint weights. KeypointDensity runs on the uint8 crop after the flips
# (index 5 of the pipeline), so with this base
#   --cfg-options train_dataloader.dataset.pipeline.5.temperature=0.1
#   --cfg-options train_dataloader.dataset.pipeline.5.patch_size=16
#   --cfg-options train_dataloader.dataset.pipeline.5.detector=sift
# change T, w_ps and the detector.
_base_ = ['./imagenet_bs256_simmim-p16_192.py']

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
