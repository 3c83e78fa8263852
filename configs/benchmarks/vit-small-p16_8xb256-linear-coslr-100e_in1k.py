# vit-base-p16_8xb256-linear-coslr-100e_in1k.py for ViT-S/16 (DeiT-S).
_base_ = ['./vit-base-p16_8xb256-linear-coslr-100e_in1k.py']

model = dict(
    backbone=dict(arch='deit-small'),
    head=dict(in_channels=384))
