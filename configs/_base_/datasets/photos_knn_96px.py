# k-NN evaluation during the demo's pre-training (KNNValLoop; see
# imagenet_knn-10pct_192.py for the full-size recipe): the demo ViT's 4th of
# 6 blocks, as the demo probe reads it, for the embedded photo dataset's
# training crops (the bank) and validation crops (the queries), through the
# demo probe's test pipeline, every 10 epochs and after the last.
# tools/demo.py sets the data root and the interval.
knn_data_root = 'data/photos'
knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 96)),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/PILToTensor'),
    dict(type='PackInputs'),
]
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CustomDataset',
        data_root=knn_data_root,
        data_prefix='val',
        pipeline=knn_pipeline))
val_cfg = dict(
    type='KNNValLoop',
    interval=10,
    layers=(4, ),
    bank_dataloader=dict(
        batch_size=64,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(
            type='CustomDataset',
            data_root=knn_data_root,
            data_prefix='train',
            pipeline=knn_pipeline)))
val_evaluator = dict(type='KNNAccuracy')
