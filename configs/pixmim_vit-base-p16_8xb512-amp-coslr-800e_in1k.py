# PixMIM ViT-B/16 as published, 800 epochs: the 300-epoch config with the
# schedule of MMPretrain's mae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py.
_base_ = ['./pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py']

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-9,
        by_epoch=True,
        begin=0,
        end=40,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=760,
        by_epoch=True,
        begin=40,
        end=800,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=800)
