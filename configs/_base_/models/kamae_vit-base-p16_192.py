# Keypoint-aware MAE ViT-B/16 at 192 px: every pixel's error weighted by
# KAMIM's keypoint weight of its cell (from KAMIMDataPreprocessor) before the
# per-patch mean.
_base_ = ['./mae_vit-base-p16_192.py', './kamim_data_preprocessor.py']

model = dict(
    type='KAMAE',
    data_preprocessor=_base_.kamim_data_preprocessor,
    head=dict(
        type='KAMAEHead',
        loss=dict(type='WeightedPixelReconstructionLoss')))
