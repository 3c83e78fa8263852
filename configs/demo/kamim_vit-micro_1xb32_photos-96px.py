# KAMIM twin of simmim_vit-micro_1xb32_photos-96px.py: the same model, data
# and schedule, plus keypoint weights.
_base_ = ['./simmim_vit-micro_1xb32_photos-96px.py']

model = dict(
    type='KAMIM',
    head=dict(
        type='KAMIMHead', loss=dict(type='WeightedPixelReconstructionLoss')))

# SimMIM's demo pipeline plus KeypointDensity with its defaults (FAST, w_ps 8,
# T 0.25). The demo computes the weights in the data pipeline, not on the
# device as the full-size configs do: on 2 CPU cores the dataloader workers
# run beside the model, so the transform costs the training step nothing.
train_pipeline = _base_.train_pipeline[:-1] + [
    dict(type='KeypointDensity'),
    dict(type='PackInputs', algorithm_keys=['kp_weight']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# SimMIM's normalisation; the packed weights become tensors (which
# compile=True needs).
data_preprocessor = dict(type='PipelineWeightsDataPreprocessor')
