"""What a config's training pipeline and data preprocessor make of an image.

:func:`trace_pipeline` runs the train pipeline one transform at a time on
an image file, keeping a viewable copy after every stage, and
:func:`keypoint_view` reads the keypoints, the keypoint map F, the weights W
and the mask of the packed result the way training computes them: with
``KAMIMDataPreprocessor`` on the device path, with the pipeline's
``KeypointDensity`` on the CPU path. So a figure of them shows what the
model is trained on.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS, TRANSFORMS

from ..datasets.seeded_pipeline import sample_seed, seed_everything
from ..datasets.transforms import KeypointDensity
from ..keypoints.fast_torch import dilate, fast_corners, to_gray


def _viewable(img, bgr: bool) -> Optional[np.ndarray]:
    """An (H, W, 3) RGB uint8 copy of a pipeline image, or None."""
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().numpy().transpose(1, 2, 0)
    elif not isinstance(img, np.ndarray):
        if not hasattr(img, 'size'):  # not a PIL image
            return None
        img, bgr = np.asarray(img), False
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, -1)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img[..., ::-1] if bgr else img)


def trace_pipeline(cfg: Config, path: str, seed: int = 0,
                   index: int = 0) -> Dict:
    """Run a config's train pipeline on one file, stage by stage.

    Args:
        cfg (Config): A training config.
        path (str): Image file.
        seed (int): Seeds the stage randomness as a run with this seed
            would for sample ``index`` in epoch 0.
        index (int): The sample index the seed is derived for.

    Returns:
        dict: ``stages``, a list of ``(transform name, RGB image)``;
        ``packed``, the pipeline's output; ``density``, the pipeline's
        ``KeypointDensity`` (or None) and ``density_input``, the image it
        was given.
    """
    init_default_scope('mmpretrain')
    transforms = [
        TRANSFORMS.build(t) for t in cfg.train_dataloader.dataset.pipeline
    ]
    seed_everything(sample_seed(seed, 0, index))
    results = dict(img_path=path, sample_idx=index)
    stages: List = []
    density, density_input, bgr = None, None, True
    for transform in transforms:
        name = type(transform).__name__
        if isinstance(transform, KeypointDensity):
            density, density_input = transform, results['img'].copy()
        try:
            results = transform(results)
        except Exception as error:
            raise RuntimeError(
                f'{path}: {name} failed: {type(error).__name__}: '
                f'{error}') from error
        if results is None:
            raise ValueError(f'{path}: {name} returned None')
        if name == 'NumpyToPIL':
            bgr = not getattr(transform, 'to_rgb', False)
        elif name == 'PILToNumpy':
            bgr = getattr(transform, 'to_bgr', False)
        image = results.get('img', results.get('inputs'))
        view = _viewable(image, bgr)
        if view is not None:
            stages.append((name, view))
    return dict(stages=stages, packed=results, density=density,
                density_input=density_input, bgr=bgr)


def keypoint_view(cfg: Config, trace: Dict) -> Dict:
    """Keypoints, keypoint map, weights and mask of a traced sample.

    Args:
        cfg (Config): The config :func:`trace_pipeline` ran.
        trace (dict): Its result.

    Returns:
        dict: ``image`` (RGB, what the model sees), ``points`` ((N, 2)
        x, y), ``keypoint_map`` (H, W), ``kp_weight`` (H / w_ps, W / w_ps)
        and ``mask`` (H, W, 1 where masked), each None when the config has
        no such thing; ``source``, where the weights come from.
    """
    packed = trace['packed']
    inputs = packed['inputs']
    sample = packed['data_samples']
    view = dict(image=trace['stages'][-1][1], points=None, keypoint_map=None,
                kp_weight=None, mask=None, source='no keypoint weights')
    mask = sample.get('mask')
    if mask is not None:
        mask = torch.as_tensor(mask).numpy()
        reps = (inputs.shape[-2] // mask.shape[0],
                inputs.shape[-1] // mask.shape[1])
        view['mask'] = np.kron(mask, np.ones(reps, mask.dtype))
    preprocessor = cfg.model.get('data_preprocessor') or {}
    if preprocessor.get('type') == 'KAMIMDataPreprocessor':
        init_default_scope('mmpretrain')
        pre = MODELS.build(preprocessor)
        batch = inputs[None]
        corners = fast_corners(to_gray(batch, pre.gray_weights),
                               pre.threshold, pre.nonmax_suppression)
        ys, xs = np.nonzero(corners[0].numpy())
        view.update(
            points=np.stack([xs, ys], 1),
            keypoint_map=dilate(corners, pre.ring)[0].numpy().astype(
                np.uint8),
            kp_weight=pre.keypoint_weights(batch)[0].numpy(),
            source='KAMIMDataPreprocessor (device path)')
    elif trace['density'] is not None:
        density, img = trace['density'], trace['density_input']
        view.update(
            points=density.detect(img),
            keypoint_map=density.keypoint_map(img),
            kp_weight=np.asarray(sample.get('kp_weight')),
            source='KeypointDensity (data pipeline)')
    return view
