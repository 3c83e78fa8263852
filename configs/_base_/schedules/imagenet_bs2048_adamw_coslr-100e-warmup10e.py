# KAMIM pre-training schedule (paper section 4.1, released code): AdamW
# lr 8e-4 at batch 2048, weight decay 0.05 on every parameter, betas
# (0.9, 0.999), gradient-norm clipping at 1.0; 10 linear warm-up epochs from
# 1e-6, then 100 cosine epochs down to 1e-5 (110 epochs in all).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=8e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 8e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=100,
        eta_min=1e-5,
        by_epoch=True,
        begin=10,
        end=110,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=110)

# lr 8e-4 is for a total batch of 2048 (8 GPUs x 256); pass --auto-scale-lr
# to scale it linearly to another total batch.
auto_scale_lr = dict(base_batch_size=2048)
