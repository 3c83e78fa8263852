# ViT-S/16 (DeiT-S: 384 dims, 12 layers, 6 heads, MLP 1536).
_base_ = ['./simmim_vit-base_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='deit-small'), neck=dict(in_channels=384))
