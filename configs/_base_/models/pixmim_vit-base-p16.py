# PixMIM ViT-B/16 at 224 px: MAE with low-frequency targets, radius 40.
_base_ = ['./mae_vit-base-p16.py']

model = dict(
    type='PixMIM',
    target_generator=dict(type='LowFreqTargetGenerator', radius=40))
