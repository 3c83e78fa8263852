# KAMIM with Swin-B (window 6) at 192 px: SimMIM whose L1 loss is weighted by
# the keypoint weights that KAMIMDataPreprocessor adds to every data sample.
_base_ = ['./simmim_swin-base-w6.py', './kamim_data_preprocessor.py']

model = dict(
    type='KAMIM',
    data_preprocessor=_base_.kamim_data_preprocessor,
    head=dict(
        type='KAMIMHead',
        loss=dict(type='WeightedPixelReconstructionLoss')))
