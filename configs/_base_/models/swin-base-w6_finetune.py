# Fine-tuning of a pre-trained Swin-B (window 6, 192 px) as the released
# script ran it: the whole network, no stochastic depth (drop path 0.0), the
# final-normed last stage average-pooled, one linear layer. Set the
# pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SwinTransformer',
        arch='base',
        img_size=192,
        drop_path_rate=0.0,
        stage_cfgs=dict(block_cfgs=dict(window_size=6)),
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
