# vit-base-p16_8xb256-linear-coslr-100e_in1k.py as a grid of 40 linear
# probes trained in one pass of the frozen backbone: blocks 6, 8, 10 and 12,
# no LayerNorm or the -ln probe's LayerNorm([C, N]), and 5 learning rates.
# Each head trains as a separate run of the probe config with its setting
# (its own AdamW state, learning rate and schedule, weight decay and
# gradient clipping). The probe config's own setting (block 8, no
# LayerNorm, lr 5e-3) is one of the heads and stays the headline figure
# (accuracy/top1); grid/<setting>/top1 for every head, grid/best/top1 for
# the best one (chosen on the split it is reported on); grid.json and
# grid.png in the work dir. Usage as the probe config's.
_base_ = ['./vit-base-p16_8xb256-linear-coslr-100e_in1k.py']

model = dict(
    type='GridProbeClassifier',
    grid=dict(
        blocks=[6, 8, 10, 12],
        norms=['none', 'tokens'],
        lrs=[1e-3, 2e-3, 5e-3, 1e-2, 2e-2],
        headline_lr=_base_.optim_wrapper.optimizer.lr))
optim_wrapper = dict(
    type='GridProbeOptimWrapper',
    constructor='GridProbeOptimWrapperConstructor')
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='GridAccuracy', topk=(1, 5)),
]
test_evaluator = val_evaluator
custom_hooks = _base_.custom_hooks + [dict(type='GridProbeReportHook')]
