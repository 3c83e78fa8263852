# PixMIM ViT-B/16 at 192 px: MAE with low-frequency targets. PixMIM's radius
# is 40 frequency bins at 224 px; at 192 px the same cut-off is
# 40 x 192 / 224 = 34.3, so radius 34.
_base_ = ['./mae_vit-base-p16_192.py']

model = dict(
    type='PixMIM',
    target_generator=dict(type='LowFreqTargetGenerator', radius=34))
