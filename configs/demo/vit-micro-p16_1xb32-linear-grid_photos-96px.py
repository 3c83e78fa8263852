# The demo probe (vit-micro-p16_1xb32-linear_photos-96px.py) as a grid of 18
# linear probes in one pass of the frozen backbone: blocks 2, 4 and 6 of 6,
# no LayerNorm or LayerNorm([C, N]), and lr 1e-3, 5e-3 and 2e-2. Each head
# trains as a separate run of the demo probe with its setting; its own
# setting (block 4, no LayerNorm, lr 5e-3) is the headline figure.
_base_ = ['./vit-micro-p16_1xb32-linear_photos-96px.py']

model = dict(
    type='GridProbeClassifier',
    grid=dict(
        blocks=[2, 4, 6],
        norms=['none', 'tokens'],
        lrs=[1e-3, 5e-3, 2e-2],
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
