# MAE ViT-B/16 at 192 px (12 x 12 patches), for the KAMIM/SimMIM setting.
_base_ = ['./mae_vit-base-p16.py']

model = dict(
    backbone=dict(img_size=192), neck=dict(num_patches=144))
