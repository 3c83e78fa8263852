# ImageNet-1k for linear probing and fine-tuning (KAMIM paper 4.1.1 and the
# released code): resize to 192 x 192, TrivialAugment (31 magnitude bins,
# 0-30), RandomErasing (p 0.5, scale 0.02-0.33, ratio 0.3-3.3, black), the
# ImageNet normalisation, then MixUp or CutMix, each with probability 0.5.
# torchvision's own TrivialAugmentWide and RandomErasing run on the RGB image,
# as in the released code, so the data preprocessor gets RGB (to_rgb=False).
# Layout: data/imagenet/{train,val}/<class>/<image>.JPEG, or MMPretrain's
# data/imagenet/meta/{train,val}.txt lists.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'
num_classes = 1000
img_size = 192

data_preprocessor = dict(
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=False,
    batch_augments=dict(
        augments=[
            dict(type='Mixup', alpha=1.0),
            dict(type='CutMix', alpha=1.0),
        ],
        probs=[0.5, 0.5]))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/TrivialAugmentWide', num_magnitude_bins=31),
    dict(type='torchvision/PILToTensor'),
    dict(
        type='torchvision/RandomErasing',
        p=0.5,
        scale=(0.02, 0.33),
        ratio=(0.3, 3.3),
        value=0),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/PILToTensor'),
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
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
