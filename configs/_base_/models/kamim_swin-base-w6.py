# KAMIM with Swin-B (window 6) at 192 px.
_base_ = ['./simmim_swin-base-w6.py']

model = dict(
    type='KAMIM',
    head=dict(
        type='KAMIMHead',
        loss=dict(type='WeightedPixelReconstructionLoss')))
