# swin-base-w6_8xb256-linear-ln-coslr-100e_in1k.py for Swin-T.
_base_ = ['./swin-base-w6_8xb256-linear-ln-coslr-100e_in1k.py']

model = dict(
    backbone=dict(arch='tiny'),
    head=dict(in_channels=768), neck=dict(in_channels=768))
