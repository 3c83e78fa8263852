"""The data preprocessor of configs whose keypoint weights come from the
pipeline."""
import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class PipelineWeightsDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` for weights the ``KeypointDensity``
    transform computed: the data samples' NumPy fields (``kp_weight``)
    become tensors, with the same values, before they are moved.

    mmengine moves data samples to the device with each field's ``to``
    method, which a NumPy array lacks and eager mode skips; with
    ``compile=True`` mmengine compiles ``train_step``, which runs this
    preprocessor, dynamo traces the array as a tensor and the move fails
    (``'ndarray' object has no attribute 'to'``). Converting here covers the
    plain model and the DDP wrapper alike, which both call the model's data
    preprocessor. Everything else is ``SelfSupDataPreprocessor``'s.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Turn the samples' NumPy fields into tensors, then preprocess.

        Args:
            data (dict): ``inputs`` and ``data_samples`` from the loader.
            training (bool): Whether training.

        Returns:
            dict: As ``SelfSupDataPreprocessor.forward``.
        """
        for sample in data.get('data_samples') or ():
            for key, value in sample.items():
                if isinstance(value, np.ndarray):
                    sample.set_field(torch.from_numpy(value), key)
        return super().forward(data, training)
