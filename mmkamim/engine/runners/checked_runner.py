"""mmengine's Runner, refusing a config that cannot train before it builds
anything."""
from mmengine.runner import Runner
from mmpretrain.registry import RUNNERS

from mmkamim.utils.config_checks import check_training_config


@RUNNERS.register_module()
class CheckedRunner(Runner):
    """``Runner`` that checks a training config first.

    The data pipeline is built before any hook runs, and MMPretrain's
    ``SimMIMMaskGenerator`` asserts without a message on a mask patch that
    does not tile the image; other settings (a mask ratio of 0 or above 1,
    a keypoint cell that does not tile the image) train a meaningless or NaN
    loss. :func:`~mmkamim.utils.config_checks.check_training_config` names
    each such setting, its value and the values allowed. Our configs select
    this runner (``runner_type = 'mmpretrain.CheckedRunner'``), so MMPretrain's
    ``tools/train.py`` checks them too; add that line to any MMPretrain
    config that imports mmkamim to check it.
    """

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        """Check the config when it trains, then build the runner."""
        if cfg.get('train_cfg'):
            check_training_config(cfg)
        return super().from_cfg(cfg)
