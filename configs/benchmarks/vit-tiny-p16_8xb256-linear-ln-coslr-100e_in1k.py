# vit-base-p16_8xb256-linear-ln-coslr-100e_in1k.py for ViT-T/16 (DeiT-T).
_base_ = ['./vit-base-p16_8xb256-linear-ln-coslr-100e_in1k.py']

model = dict(
    backbone=dict(arch='deit-tiny'),
    head=dict(in_channels=192), neck=dict(in_channels=192))
