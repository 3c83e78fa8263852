# Fine-tuning of a pre-trained ViT-B/16 (KAMIM paper 4.1, released code):
# the whole network with stochastic depth 0.1, the final-normed patch tokens
# average-pooled, one linear layer (layer-wise lr decay 0.65 is set in the
# configs/benchmarks files). Set the pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VisionTransformer',
        arch='base',
        img_size=192,
        patch_size=16,
        drop_path_rate=0.1,
        out_type='featmap',
        init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

