# Demo-size PixMIM on the footing of simmim_/kamim_vit-micro_1xb32_photos-96px
# (same encoder, data, batch and schedule): MAE with the demo ViT as encoder
# (mask ratio 0.75), a 2-layer 128-dim decoder (MAE's 8 x 512 decoder scaled
# down with the encoder), normalised-pixel targets low-passed with radius 17
# (PixMIM's 40 at 224 px, scaled to 96 px), and the "simple resized crop".
_base_ = ['./simmim_vit-micro_1xb32_photos-96px.py']

model = dict(
    _delete_=True,
    type='PixMIM',
    backbone=dict(
        type='MAEViT',
        arch=dict(
            embed_dims=128,
            num_layers=6,
            num_heads=4,
            feedforward_channels=512),
        img_size={{_base_.img_size}},
        patch_size=16,
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches=36,
        patch_size=16,
        in_chans=3,
        embed_dim=128,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    target_generator=dict(type='LowFreqTargetGenerator', radius=17),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/Resize', size={{_base_.img_size}}),
    dict(
        type='torchvision/RandomCrop',
        size={{_base_.img_size}},
        padding=4,
        padding_mode='reflect'),
    dict(type='torchvision/RandomHorizontalFlip', p=0.5),
    dict(type='PILToNumpy', to_bgr=True),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
