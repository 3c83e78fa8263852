# ImageNet-1k pre-training data for SimMIM on a ViT with 16 px patches, as in
# the KAMIM paper (section 4.1.1): random resized crop to 192 px with scale
# (0.67, 1) and ratio (3/4, 4/3), independent vertical and horizontal flips
# with p = 0.5, 32 px mask patches with ratio 0.6.
# Data: every image under data_root (labels unused, nested folders fine):
# ImageNet's data/imagenet/meta/train.txt list when present, else the
# images of data/imagenet/train/; for your own folder set
#   --cfg-options train_dataloader.dataset.data_root=PATH
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

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
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    # Per-sample seeds from (seed, epoch, index): exact resume, and the same
    # augmentation whatever the number of processes and workers.
    sampler=dict(type='ReproducibleSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        pipeline=train_pipeline))
