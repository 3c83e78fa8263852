# Weighted k-NN evaluation (see ../benchmarks/vit-base-p16_8xb256-knn_in1k.py)
# of the demo ViT on the embedded photo dataset: the training crops as the
# bank, the validation crops as queries, the 4th of 6 blocks as the demo
# probe reads it.
_base_ = ['./vit-micro-p16_1xb32-linear_photos-96px.py']

bank_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=False,
    pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CustomDataset',
        data_root=_base_.data_root,
        data_prefix='train',
        pipeline=_base_.test_pipeline))
val_cfg = dict(
    _delete_=True, type='KNNValLoop', bank_dataloader=bank_dataloader)
val_evaluator = dict(_delete_=True, type='KNNAccuracy')
