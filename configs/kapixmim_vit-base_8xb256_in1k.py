# Keypoint-aware PixMIM ViT-B/16 on the footing of kamim_vit-
# base_8xb256_in1k.py and
# simmim_vit-base_8xb256_in1k.py: 192 px, batch 8 x 256, the same optimiser
# and 10 + 100 epoch schedule; the method's own augmentation.
_base_ = [
    '_base_/models/kapixmim_vit-base-p16_192.py',
    '_base_/datasets/imagenet_bs256_pixmim_192.py',
    '_base_/schedules/imagenet_bs2048_adamw_coslr-100e-warmup10e.py',
    '_base_/default_runtime.py',
]
