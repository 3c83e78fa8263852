# Weighted k-NN evaluation (see vit-base-p16_8xb256-knn_in1k.py) of a KAMIM
# or SimMIM ViT-B/16 on CIFAR-10: the train split as the bank, the test split
# as queries, at 192 px as the probe reads them.
_base_ = ['./vit-base-p16_8xb256-linear-coslr-100e_cifar10.py']

bank_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=False,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=_base_.dataset_type,
        data_root=_base_.data_root,
        split='train',
        download=False,
        pipeline=_base_.test_pipeline))
val_cfg = dict(
    _delete_=True, type='KNNValLoop', bank_dataloader=bank_dataloader)
val_evaluator = dict(_delete_=True, type='KNNAccuracy')
