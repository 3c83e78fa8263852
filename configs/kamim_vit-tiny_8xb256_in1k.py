# ViT-T/16 (DeiT-T: 192 dims, 12 layers, 3 heads, MLP 768).
_base_ = ['./kamim_vit-base_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='deit-tiny'), neck=dict(in_channels=192))
