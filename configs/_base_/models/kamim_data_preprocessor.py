# KAMIM's keypoint weights with the paper's best setting: FAST with OpenCV's
# defaults (threshold 10, non-max suppression), drawKeypoints rings, w_ps 8,
# T 0.25. KAMIMDataPreprocessor computes them for the whole batch on the
# training device, bit-identical to the KeypointDensity transform, and
# normalises as SimMIM does. The keypoint model bases use this dict as
# model.data_preprocessor, so in every keypoint-weighted config
#   --cfg-options model.data_preprocessor.temperature=0.1 \
#                 model.data_preprocessor.patch_size=16 \
#                 model.data_preprocessor.detector_kwargs.threshold=20
# change T, w_ps and the FAST threshold, and
#   tools/train.py CONFIG --keypoints-in-pipeline
# computes the same weights with KeypointDensity in the data pipeline
# instead (needed for detector='orb' or 'sift' and rasterize='point').
kamim_data_preprocessor = dict(
    type='KAMIMDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    detector='fast',
    detector_kwargs=dict(),  # OpenCV's arguments, e.g. threshold=20
    rasterize='circle',
    patch_size=8,
    temperature=0.25)
