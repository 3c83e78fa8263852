# MMPretrain's default runtime, plus what every mmkamim run needs.
default_scope = 'mmpretrain'

# Register mmkamim's components in MMPretrain's registries.
custom_imports = dict(imports=['mmkamim'], allow_failed_imports=False)
# mmengine's Runner that first refuses settings which make the loss
# undefined (mask ratio, mask patch and keypoint cell sizes), naming them.
runner_type = 'mmpretrain.CheckedRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # CheckpointHook's arguments; a kill at any moment leaves a complete
    # checkpoint, and last_checkpoint is relative to the work dir.
    checkpoint=dict(type='AtomicCheckpointHook', interval=10,
                    max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

# WeightsOnlyCheckpointHook keeps checkpoints loadable by
# torch.load(weights_only=True), which torch >= 2.6 uses by default and
# mmengine 0.10.7 relies on to resume, and refuses cut-off or code-running
# checkpoints; CheckLoadFromHook stops a run whose load_from checkpoint does
# not fill the model (allow_random=[...] names what may keep its
# initialisation: custom_hooks.1.allow_random); ReproducibilityHook makes
# --resume continue the run exactly; LossScaleMonitorHook logs the steps
# --amp's loss scaler skips and warns when they are many; PreemptionHook
# saves and stops the run on SIGTERM, SIGINT or SIGUSR1 (Slurm preemption
# and time limits, docker stop, Ctrl-C), also during validation, exiting
# with 128 + signal; NonFiniteLossHook stops a run whose loss, parameters
# or optimizer state are inf/NaN before it saves them.
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='CheckLoadFromHook'),
    dict(type='ReproducibilityHook'),
    dict(type='LossScaleMonitorHook'),
    dict(type='PreemptionHook'),
    dict(type='NonFiniteLossHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
