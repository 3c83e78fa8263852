# Fine-tuning of a KAMIM or SimMIM Swin-B on ImageNet-1k, 100 + 10 epochs.
# Usage: tools/dist_train.sh \
#     configs/benchmarks/swin-base-w6_8xb256-finetune-coslr-100e_in1k.py 8 \
#     --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/swin-base-w6_finetune.py',
    '../_base_/datasets/imagenet_bs256_trivialaug_192.py',
    '../_base_/schedules/eval_bs2048_adamw_coslr-100e-warmup10e.py',
    '../_base_/eval_runtime.py',
]
