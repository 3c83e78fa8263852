# Fine-tuning of a pre-trained ViT-B/16 as the released scripts ran it: the
# whole network, no stochastic depth, the final-normed patch tokens
# average-pooled, one linear layer. norm_cfg is spelled out so that
# `--cfg-options model.backbone.norm_cfg.eps=1e-12` can match a checkpoint
# converted from Hugging Face's ViT. Set the pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='base',
        img_size=192,
        patch_size=16,
        drop_path_rate=0.0,
        norm_cfg=dict(type='LN', eps=1e-6),
        out_type='featmap',
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
