import pytest
from conftest import build_runner, tiny_demo_config
from mmengine.config import Config
from mmengine.hooks import Hook


class LossRecorder(Hook):

    def __init__(self):
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append(float(outputs['loss']))


@pytest.mark.slow
def test_kamim_with_pipeline_weights_compiles_and_trains_as_eager(
        tmp_path, photo_dataset):
    # KeypointDensity's kp_weight is a NumPy array in the data samples;
    # mmengine compiles train_step, where dynamo used to fail on it
    # ("'ndarray' object has no attribute 'to'"). 2 batches of 27: one
    # shape, so one compilation.
    losses = {}
    for compiled in (False, True):
        config = tiny_demo_config(
            tmp_path, photo_dataset, 'kamim_vit-micro_1xb32_photos-96px.py',
            'val_cfg = None\nval_dataloader = None\nval_evaluator = None\n'
            "train_cfg = dict(max_epochs=1)\n"
            "train_dataloader['batch_size'] = 27")
        cfg = Config.fromfile(config)
        cfg.compile = compiled
        runner = build_runner(cfg, tmp_path / f'compiled{compiled}')
        recorder = LossRecorder()
        runner.register_hook(recorder)
        runner.train()
        losses[compiled] = recorder.losses
    assert len(losses[True]) == len(losses[False]) == 2
    # Inductor fuses and reorders float32 sums: equal to 1e-4 relative.
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
