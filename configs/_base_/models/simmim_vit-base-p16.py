# SimMIM with a plain ViT-B/16 at 192 px (12 x 12 tokens): mask token in the
# encoder, a 1x1 conv + pixel-shuffle decoder, L1 loss on masked pixels.
# norm_cfg is spelled out so that `--cfg-options model.backbone.norm_cfg.eps=
# 1e-12` can match a checkpoint converted from Hugging Face's ViT.
model = dict(
    type='SimMIM',
    backbone=dict(
        type='SimMIMViT',
        arch='base',
        img_size=192,
        patch_size=16,
        norm_cfg=dict(type='LN', eps=1e-6)),
    neck=dict(type='SimMIMLinearDecoder', in_channels=768, encoder_stride=16),
    head=dict(
        type='SimMIMHead',
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L1', channel=3)))
