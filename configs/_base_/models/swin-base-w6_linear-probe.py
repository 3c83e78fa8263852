# Linear probe of a pre-trained Swin-B (window 6, 192 px; KAMIM paper 4.1):
# the frozen backbone's last stage as the released probe reads it (Hugging
# Face's last hidden state, before Swin's final LayerNorm; `out_norm=True`
# adds that norm), average-pooled, one linear layer. Set the pre-training
# checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
# ProbeClassifier is MMPretrain's ImageClassifier whose linear head starts
# from weights drawn from (run seed, block, norm), as a grid probe's heads.
model = dict(
    type='ProbeClassifier',
    backbone=dict(
        type='LinearProbeSwin',
        arch='base',
        img_size=192,
        out_indices=(3, ),
        out_norm=False,
        stage_cfgs=dict(block_cfgs=dict(window_size=6)),
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
