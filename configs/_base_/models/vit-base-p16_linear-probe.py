# Linear probe of a pre-trained ViT-B/16 (KAMIM paper 4.1, released code):
# the frozen backbone's 8th block (before any final LayerNorm), its patch
# tokens average-pooled, one linear layer. norm_cfg is spelled out so that
# `--cfg-options model.backbone.norm_cfg.eps=1e-12` can match a checkpoint
# converted from Hugging Face's ViT. Set the pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# ProbeClassifier is MMPretrain's ImageClassifier whose linear head starts
# from weights drawn from (run seed, block, norm), as a grid probe's heads.
model = dict(
    type='ProbeClassifier',
    backbone=dict(
        type='LinearProbeViT',
        arch='base',
        img_size=192,
        patch_size=16,
        out_indices=7,
        norm_cfg=dict(type='LN', eps=1e-6),
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
