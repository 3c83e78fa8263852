_base_ = [
    '_base_/models/kamim_vit-base-p16.py',
    '_base_/datasets/imagenet_bs256_simmim-p16_192.py',
    '_base_/schedules/imagenet_bs2048_adamw_coslr-100e-warmup10e.py',
    '_base_/default_runtime.py',
]
