# PixMIM ViT-B/16 as published (MMSelfSup's pixmim config, 300 epochs): MAE
# ViT-B/16 (224 px, batch 8 x 512, mask ratio 0.75, 8-layer 512-dim decoder,
# normalised-pixel targets, MAE's schedule and mixed precision) with
# low-frequency targets (radius 40 at 224 px) and the "simple resized crop".
_base_ = [
    '_base_/models/pixmim_vit-base-p16.py',
    '_base_/datasets/imagenet_bs512_pixmim_224.py',
    '_base_/schedules/imagenet_bs4096_adamw_coslr-300e-warmup40e_mae.py',
    '_base_/default_runtime.py',
]

default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=1,
                    max_keep_ckpts=3))
randomness = dict(seed=2, diff_rank_seed=True)
# Resume automatically from the latest checkpoint in the work dir, as
# MMPretrain's MAE configs do.
resume = True
