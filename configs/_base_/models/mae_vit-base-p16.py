# MAE ViT-B/16 at 224 px, as MMPretrain's mae_vit-base-p16 model: mask
# ratio 0.75, 8-layer 512-dim 16-head decoder, normalised-pixel L2 targets.
model = dict(
    type='MAE',
    backbone=dict(
        type='MAEViT', arch='b', img_size=224, patch_size=16,
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches=196,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])
