# Weighted k-NN evaluation (DINO's: k in 10, 20, 100, 200, tau 0.07) of a
# KAMIM or SimMIM ViT-B/16 on ImageNet-1k: the features the linear probe
# reads (the 8th block's patch tokens, averaged), the train split as the
# bank and the val split as queries, both through the probe's test
# pipeline (resize to 192 px). Minutes, against the probe's 110 epochs; a
# rough guide to linear separability, not a replacement for the probe.
# Usage: tools/benchmarks/dist_knn_eval.sh \
#     configs/benchmarks/vit-base-p16_8xb256-knn_in1k.py CHECKPOINT 8
_base_ = ['./vit-base-p16_8xb256-linear-coslr-100e_in1k.py']

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
        pipeline=_base_.test_pipeline))
val_cfg = dict(
    _delete_=True, type='KNNValLoop', bank_dataloader=bank_dataloader)
val_evaluator = dict(
    _delete_=True, type='KNNAccuracy', ks=(10, 20, 100, 200), tau=0.07,
    bank_dtype='float16')
