# Linear probing and fine-tuning schedule (KAMIM paper 4.1, released code):
# plain AdamW over every parameter (no weight-decay exemptions), lr 5e-3 at
# batch 2048, weight decay 0.05, betas (0.9, 0.999); gradients clipped at
# norm 1.0 as in the released TPU ViT and GPU Swin scripts, which run probes
# and fine-tuning through the same loop; 10 linear warm-up epochs from
# 2.5e-6, then 100 cosine epochs down to 2.5e-6. Validation every 10 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=5e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=2.5e-6 / 5e-3,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=100,
        eta_min=2.5e-6,
        by_epoch=True,
        begin=10,
        end=110,
        convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=110, val_interval=10)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=2048)
