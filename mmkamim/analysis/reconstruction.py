"""Reconstructions of a pre-trained MIM model, as viewable images.

:func:`reconstruct` masks an image with a fixed seed, runs the model as
pre-training does and returns the original, the masked input and the
reconstruction as RGB arrays in [0, 1]. SimMIM and KAMIM predict
normalised pixels; MAE and PixMIM (with ``norm_pix``) predict each patch's
pixels normalised by that patch's own mean and variance, so those are
restored from the target's patches (PixMIM's target being the
low-frequency image, which is returned too).
"""
import os.path as osp
from typing import Dict, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.datasets.transforms import SimMIMMaskGenerator
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from mmkamim.utils.checkpoint_files import (
    apply_checkpoint_norm_eps,
    check_checkpoint_file,
)
from mmkamim.utils.errors import UsageError
from mmkamim.utils.random_state import generators_untouched


def build_model(config: str, checkpoint: str,
                cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """A pre-training model from its config and checkpoint, in eval mode.

    Args:
        config (str): Pre-training config.
        checkpoint (str): Its checkpoint; one converted from Hugging Face
            gets the LayerNorm epsilon it was trained with.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
    """
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options or {})
    apply_checkpoint_norm_eps(cfg, checkpoint)
    # As mmengine's Runner: the config's data_preprocessor unless the model
    # has its own.
    if cfg.get('data_preprocessor') is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(cfg.model)
    check_checkpoint_file(checkpoint)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    model.cfg = cfg
    model.eval()
    return model


def image_size(model: torch.nn.Module) -> int:
    """The square input size the model's backbone was built for."""
    return int(model.backbone.patch_embed.init_input_size[0])


def load_square(path: str, size: int) -> np.ndarray:
    """An image file as a BGR uint8 (size, size) centre crop of its
    short-side resize."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'cannot read image {path}')
    height, width = img.shape[:2]
    scale = size / min(height, width)
    img = cv2.resize(img, (max(size, round(width * scale)),
                           max(size, round(height * scale))),
                     interpolation=cv2.INTER_AREA)
    top = (img.shape[0] - size) // 2
    left = (img.shape[1] - size) // 2
    return np.ascontiguousarray(img[top:top + size, left:left + size])


def _to_rgb01(normalised: torch.Tensor, preprocessor) -> np.ndarray:
    """(3, H, W) normalised RGB to an (H, W, 3) array in [0, 1]."""
    pixels = normalised * preprocessor.std + preprocessor.mean
    return (pixels / 255).clamp(0, 1).permute(1, 2, 0).numpy()


@torch.no_grad()
def reconstruct(model: torch.nn.Module, img_bgr: np.ndarray,
                mask_seed: int = 0) -> Dict:
    """Mask an image, reconstruct it and return viewable arrays.

    Args:
        model: A SimMIM, KAMIM, MAE, PixMIM or KAMAE pre-training model.
        img_bgr (np.ndarray): uint8 (H, W, 3) BGR image of the model's size.
        mask_seed (int): Seed of the mask (SimMIM's mask generator, or
            MAE's random masking).

    Returns:
        dict: ``original``, ``masked`` and ``reconstruction`` (H, W, 3) RGB
        in [0, 1], the last with the model's pixels where it was masked and
        the original elsewhere; ``raw``, the model's output everywhere;
        ``pixel_mask`` (H, W) bool, True where masked;
        ``target`` (PixMIM's low-frequency target, RGB in [0, 1], or None);
        ``note``, how the reconstruction was made viewable.
    """
    preprocessor = model.data_preprocessor
    data = dict(inputs=torch.from_numpy(img_bgr).permute(2, 0, 1)[None],
                data_samples=None)
    # Only the normalisation: no keypoint weights are needed here.
    inputs = SelfSupDataPreprocessor.forward(preprocessor, data,
                                             False)['inputs']
    height, width = inputs.shape[-2:]
    target = note = None
    if hasattr(model.backbone, 'mask_ratio'):  # MAE family
        # The mask is drawn from the global generator, seeded here and put
        # back after: a caller's random numbers do not change.
        with generators_untouched():
            torch.manual_seed(mask_seed)
            latent, mask, ids_restore = model.backbone(inputs)
        pred = model.neck(latent, ids_restore)
        goal = inputs
        generator = getattr(model, 'target_generator', None)
        if generator is not None:
            goal = generator(inputs)
            target = _to_rgb01(goal[0], preprocessor)
        head = model.head
        if head.norm_pix:
            patches = head.patchify(goal)
            mean = patches.mean(-1, keepdim=True)
            var = patches.var(-1, keepdim=True)
            pred = pred * (var + 1e-6)**.5 + mean
            source = 'low-frequency target' if generator else 'original'
            note = ('the prediction is normalised per patch; it is mapped '
                    "back with the mean and variance of that patch of the "
                    f'{source}, which the model is not given, so these '
                    'figures are not comparable with those of models mapped '
                    'back with the ImageNet mean and std')
        recon = head.unpatchify(pred)
        patch = head.patch_size
        grid = mask.reshape(1, height // patch, width // patch)
    else:  # SimMIM family
        patch = model.head.patch_size
        generator = SimMIMMaskGenerator(**_mask_settings(model, height,
                                                         patch))
        with generators_untouched():
            np.random.seed(mask_seed)
            grid = torch.from_numpy(generator({})['mask'])[None]
        recon = model.neck(model.backbone(inputs, grid)[0])
    pixel_mask = grid[0].repeat_interleave(patch, 0).repeat_interleave(
        patch, 1).bool().numpy()
    original = _to_rgb01(inputs[0], preprocessor)
    reconstruction = _to_rgb01(recon[0], preprocessor)
    masked = original.copy()
    masked[pixel_mask] = 0.5
    # The model is trained on masked patches only: show it there.
    shown = np.where(pixel_mask[..., None], reconstruction, original)
    return dict(original=original, masked=masked, reconstruction=shown,
                raw=reconstruction, pixel_mask=pixel_mask, target=target,
                note=note or ('the prediction is in ImageNet-normalised '
                              'pixels; it is mapped back with the ImageNet '
                              'mean and std'))


def _mask_settings(model: torch.nn.Module, size: int, patch: int) -> dict:
    """SimMIM's mask, as the model's config makes it in training."""
    for step in model.cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'SimMIMMaskGenerator':
            settings = dict(step)
            settings.pop('type')
            if settings.get('input_size', size) != size:
                raise UsageError(
                    f"the config masks {settings['input_size']} px images, "
                    f'the model reads {size} px')
            return dict(settings, input_size=size, model_patch_size=patch)
    raise UsageError('the config has no SimMIMMaskGenerator in its training '
                     'pipeline: there is no mask to reconstruct')


def image_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]
