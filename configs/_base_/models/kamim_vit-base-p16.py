# KAMIM with a plain ViT-B/16 at 192 px: SimMIM whose L1 loss is weighted by
# the keypoint weights that KeypointDensity adds to every data sample.
_base_ = ['./simmim_vit-base-p16.py']

model = dict(
    type='KAMIM',
    head=dict(
        type='KAMIMHead',
        loss=dict(type='WeightedPixelReconstructionLoss')))
