# Fine-tuning of a KAMIM or SimMIM ViT-B/16 on CIFAR-10 (KAMIM paper, Table 3).
_base_ = [
    '../_base_/models/vit-base-p16_finetune.py',
    '../_base_/datasets/cifar10_bs256_trivialaug_192.py',
    '../_base_/schedules/eval_bs2048_adamw_coslr-100e-warmup10e.py',
    '../_base_/eval_runtime.py',
]

model = dict(head=dict(num_classes=10))
