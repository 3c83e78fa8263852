# Runtime for linear probing and fine-tuning: the default runtime, plus a
# check that the pre-trained backbone really loads (CheckPretrainedHook,
# custom_hooks.1; CheckLoadFromHook is custom_hooks.2 here), and
# best-checkpoint saving.
_base_ = ['./default_runtime.py']

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='CheckPretrainedHook'),
    dict(type='CheckLoadFromHook'),
    dict(type='ReproducibilityHook'),
    dict(type='LossScaleMonitorHook'),
    dict(type='PreemptionHook'),
    dict(type='NonFiniteLossHook'),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=10, max_keep_ckpts=3,
        save_best='auto'))
