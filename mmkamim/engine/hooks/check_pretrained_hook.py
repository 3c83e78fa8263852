"""Fail loudly when a probe or fine-tune would start from random weights."""
import logging
from typing import List, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader
from mmpretrain.registry import HOOKS


def match_backbone_keys(backbone, checkpoint: str,
                        prefix: str) -> Tuple[List[str], List[str]]:
    """Compare a backbone with the weights under ``prefix`` in a checkpoint.

    A backbone weight matches when the checkpoint has a tensor of the same
    name and shape; position embeddings match by name alone, since
    ``VisionTransformer`` resizes them when it loads them.

    Args:
        backbone (nn.Module): The backbone to initialise.
        checkpoint (str): Checkpoint path (or URL mmengine can load).
        prefix (str): Prefix of the backbone weights in the checkpoint,
            e.g. ``'backbone.'``.

    Returns:
        tuple[list[str], list[str]]: Backbone keys the checkpoint fills
        (after removing the prefix), and backbone keys it does not.
    """
    state = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    prefix = prefix if not prefix or prefix.endswith('.') else prefix + '.'
    found = {
        key[len(prefix):]: value.shape
        for key, value in state.items() if key.startswith(prefix)
    }
    matched, missing = [], []
    for key, value in backbone.state_dict().items():
        fits = key in found and (found[key] == value.shape
                                 or key.endswith('pos_embed'))
        (matched if fits else missing).append(key)
    return matched, missing


@HOOKS.register_module()
class CheckPretrainedHook(Hook):
    """Check the pre-trained backbone before weights are initialised.

    mmengine's ``Pretrained`` initialiser loads with ``strict=False``: a
    checkpoint of another architecture, or with another key prefix, only
    logs warnings and the run trains from random weights. Before the
    runner initialises weights, this hook reads
    ``model.backbone.init_cfg`` and raises if no checkpoint is set or if none
    of the backbone's weights is in it; backbone keys the checkpoint lacks
    are logged as a warning. Runs that load all weights from ``load_from``
    (testing, resuming) are not checked.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Raise unless the configured checkpoint initialises the backbone."""
        if runner.cfg.get('load_from'):
            return
        init_cfg = runner.cfg.model.get('backbone', {}).get('init_cfg') or {}
        checkpoint = init_cfg.get('checkpoint')
        if init_cfg.get('type') != 'Pretrained' or not checkpoint:
            raise ValueError(
                'no pre-trained backbone: set '
                '--cfg-options model.backbone.init_cfg.checkpoint=PATH to a '
                'KAMIM/SimMIM pre-training checkpoint (got init_cfg='
                f'{dict(init_cfg)})')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        prefix = init_cfg.get('prefix', '')
        matched, missing = match_backbone_keys(model.backbone, checkpoint,
                                               prefix)
        if not matched:
            raise ValueError(
                f'none of the {len(missing)} backbone weights (e.g. '
                f'{missing[:3]}) is in {checkpoint} under prefix {prefix!r}: '
                'is it a checkpoint of this architecture?')
        if missing:
            print_log(
                f'{len(missing)} backbone weights are not in {checkpoint} '
                f'and keep their random init: {missing}',
                logger='current',
                level=logging.WARNING)
        print_log(
            f'{len(matched)} backbone weights come from {checkpoint}',
            logger='current')
