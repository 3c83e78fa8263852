"""Move a config's keypoint weights from the device into the data pipeline."""
from mmengine.config import Config

from mmkamim.keypoints import KeypointSettings


def keypoints_in_pipeline(cfg: Config) -> Config:
    """Compute a config's keypoint weights with the CPU transform instead.

    The keypoint-weighted configs compute KAMIM's weights on the training
    device (``model.data_preprocessor`` is a ``KAMIMDataPreprocessor``).
    This rewrites such a config, in place, to compute the same weights with
    ``KeypointDensity`` in the data pipeline (in the dataloader workers):
    the preprocessor's keypoint settings move to a ``KeypointDensity`` step
    inserted before ``PackInputs``, which also packs ``kp_weight``, and the
    preprocessor becomes a ``PipelineWeightsDataPreprocessor`` (MMPretrain's
    ``SelfSupDataPreprocessor``, the packed weights as tensors) with the
    same normalisation. ORB, SIFT and the ``'point'`` raster need this.

    Args:
        cfg (Config): A config whose ``model.data_preprocessor`` is a
            ``KAMIMDataPreprocessor``, with its ``--cfg-options`` applied.

    Returns:
        Config: ``cfg``, rewritten.
    """
    preprocessor = cfg.model.get('data_preprocessor') or {}
    if preprocessor.get('type') != 'KAMIMDataPreprocessor':
        raise ValueError(
            'keypoints_in_pipeline needs a config whose '
            'model.data_preprocessor is a KAMIMDataPreprocessor, got '
            f'{preprocessor.get("type")!r}')
    pipeline = cfg.train_dataloader.dataset.pipeline
    types = [step.get('type') for step in pipeline]
    if 'KeypointDensity' in types:
        raise ValueError('the train pipeline already has KeypointDensity')
    if not types or types[-1] != 'PackInputs':
        raise ValueError(
            f'the train pipeline must end with PackInputs, got {types}')
    keypoints = {k: preprocessor.pop(k) for k in KeypointSettings.names()
                 if k in preprocessor}
    preprocessor.pop('compile', None)
    preprocessor.type = 'PipelineWeightsDataPreprocessor'
    pack = pipeline[-1]
    pack.algorithm_keys = list(pack.get('algorithm_keys', [])) + [
        'kp_weight'
    ]
    pipeline.insert(len(pipeline) - 1, dict(type='KeypointDensity',
                                            **keypoints))
    return cfg
