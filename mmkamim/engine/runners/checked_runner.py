"""mmengine's Runner, refusing a config that cannot train before it builds
anything, compiling the model rather than its train step, stepping
Adam(W) in torch's fused kernel, and resuming on a full disk."""
import os.path as osp
from typing import Dict, Union

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner import Runner
from mmpretrain.registry import RUNNERS
from torch import nn
from torch.optim import Optimizer

from mmkamim.engine.optimizers import with_fused_adam
from mmkamim.models.utils import compile_forward
from mmkamim.utils.checkpoint_files import remove_partial_files
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

    With ``compile=True`` (or a dict of ``torch.compile`` options) it
    compiles the model's forward (``nn.Module.compile``), where mmengine
    compiles the whole ``train_step``: dynamo then traced the data
    preprocessor's copy of every data sample, guarding on each sample's
    file name, and the message hub's logging, and compiled again at every
    iteration. The forward is the same for the plain model and inside the
    DDP wrapper; the data preprocessor, the optimizer step and the logging
    run eagerly. NumPy scalars in the modules become Python numbers first
    (:func:`~mmkamim.models.utils.compile_forward`), which removes the
    graph break at each of a ViT's stochastic-depth layers.

    Adam and AdamW step in torch's fused kernel where the running torch has
    one for the training device and the config sets neither ``fused`` nor
    ``foreach`` (:func:`~mmkamim.engine.optimizers.with_fused_adam`).

    A resumed run first removes the temporary files a checkpoint write cut
    short left in the work dir, so that it can start on the disk that
    filled up.
    """

    def _unwrapped_model(self) -> nn.Module:
        """The model, inside its DDP wrapper if it has one."""
        return self.model.module if is_model_wrapper(
            self.model) else self.model

    def build_optim_wrapper(
        self, optim_wrapper: Union[Optimizer, OptimWrapper, Dict]
    ) -> Union[OptimWrapper, OptimWrapperDict]:
        """mmengine's ``build_optim_wrapper``, with a single optimizer
        config's Adam(W) fused for the device the model is on."""
        if isinstance(optim_wrapper, dict):
            device = next(self._unwrapped_model().parameters()).device
            fused = with_fused_adam(optim_wrapper, device)
            if fused is not optim_wrapper:
                self.logger.info(
                    f'{fused["optimizer"]["type"]} steps in torch\'s fused '
                    f'kernel on {device.type} (set optim_wrapper.optimizer.'
                    'fused=False for torch\'s default)')
            optim_wrapper = fused
        return super().build_optim_wrapper(optim_wrapper)

    def _maybe_compile(self, target: str) -> None:
        compile_cfg = self.cfg.get('compile', None)
        if not compile_cfg:
            return
        compile_cfg = {} if compile_cfg is True else dict(compile_cfg)
        model = self._unwrapped_model()
        if not getattr(model, '_mmkamim_compiled', False):
            compile_forward(model, **compile_cfg)
            model._mmkamim_compiled = True
            self.logger.info(
                'The model\'s forward is compiled (torch.compile); the '
                'first iterations are slow.')

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        """Check the config when it trains; when it resumes, remove the
        temporary files of a checkpoint write that was cut short; then
        build the runner.

        The removal comes before mmengine writes anything (the config's
        copy, the log): after a save failed on a full disk, those files
        hold the space the resumed run needs to start.
        """
        if cfg.get('train_cfg'):
            check_training_config(cfg)
        if cfg.get('resume') and cfg.get('work_dir'):
            folders = {cfg.work_dir}
            out_dir = (cfg.get('default_hooks') or {}).get(
                'checkpoint', {}).get('out_dir')
            if out_dir and '://' not in out_dir:
                folders.add(osp.join(out_dir, osp.basename(
                    cfg.work_dir.rstrip(osp.sep))))
            for folder in sorted(folders):
                for path in remove_partial_files(folder):
                    print_log(f'removed {path}, left by a write that was '
                              'cut short', logger='current')
        return super().from_cfg(cfg)
