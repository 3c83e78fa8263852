# ImageNet-1k pre-training data for PixMIM as published (MMSelfSup): the
# conservative "simple resized crop" (short side to 224, random 224 crop with
# 4 px reflect padding, horizontal flip; torchvision's, on the RGB image).
# Data: every image under data_root (labels unused), as in
# imagenet_bs256_simmim-p16_192.py.
dataset_type = 'ImageFolder'
data_root = 'data/imagenet/'

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/Resize', size=224),
    dict(
        type='torchvision/RandomCrop',
        size=224,
        padding=4,
        padding_mode='reflect'),
    dict(type='torchvision/RandomHorizontalFlip', p=0.5),
    dict(type='PILToNumpy', to_bgr=True),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=512,
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
