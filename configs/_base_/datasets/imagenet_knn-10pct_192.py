# k-NN evaluation during pre-training (KNNValLoop), switched on by adding
# this file to a pre-training config's _base_ list:
# every 10 epochs and after the last, the encoder being trained, in eval
# mode and unmasked, gives the features the ViT linear probes read (the 8th
# of 12 blocks' patch tokens, averaged; Swin: its last stage) for a bank of
# 10 % of ImageNet's train images and for the val set; the metrics knn/top1,
# knn/top5 (k = 20) and knn/top1_k{10,20,100,200} are logged like any
# validation, and CheckpointHook(save_best='knn/top1') can use them.
# The bank list is every 10th line of ImageNet's train list:
#     awk 'NR % 10 == 1' data/imagenet/meta/train.txt \
#         > data/imagenet/meta/train_knn_10pct.txt
# Its cost is measured and estimated in docs/knn.md.
knn_data_root = 'data/imagenet/'
knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(192, 192)),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/PILToTensor'),
    dict(type='PackInputs'),
]
val_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=False,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageNet', data_root=knn_data_root, split='val',
        pipeline=knn_pipeline))
val_cfg = dict(
    type='KNNValLoop',
    interval=10,
    layers=(8, ),
    bank_dataloader=dict(
        batch_size=256,
        num_workers=8,
        persistent_workers=False,
        pin_memory=True,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='ImageNet',
            data_root=knn_data_root,
            ann_file='meta/train_knn_10pct.txt',
            data_prefix='train',
            pipeline=knn_pipeline)))
val_evaluator = dict(type='KNNAccuracy', bank_dtype='float16')
