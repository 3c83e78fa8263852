"""A stop signal during a validation (k-NN or classification) or a test
stops at the next batch; during training the run saves the position before
the validation, and ``--resume`` runs that validation again and ends where
the uninterrupted run ends.

The signal is sent by a test hook from inside the run when the validation
(or test) starts, so the stop point is the same on any machine.
"""
import os
import signal

import pytest
import torch
from conftest import build_runner, tiny_demo_config
from mmengine.config import Config
from mmengine.hooks import Hook


class SignalAt(Hook):
    """Send this process a signal when a validation or test starts (the
    ``at``-th one), and record every validation's metrics."""

    def __init__(self, at: int = 1, number: int = signal.SIGTERM) -> None:
        self.at = at
        self.number = number
        self.started = 0
        self.metrics = []

    def _start(self) -> None:
        self.started += 1
        if self.started == self.at:
            os.kill(os.getpid(), self.number)

    def before_val(self, runner) -> None:
        self.training_generator = torch.get_rng_state()
        self._start()

    def before_test(self, runner) -> None:
        self._start()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics.append((runner.iter, dict(metrics)))


@pytest.fixture
def handlers_kept():
    """A run stopped by SystemExit leaves its handlers installed (the
    process would exit); give the test process its own back."""
    kept = {n: signal.getsignal(n)
            for n in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    yield
    for number, handler in kept.items():
        signal.signal(number, handler)


def run(config: str, work_dir, resume=False, hook=None, **options):
    cfg = Config.fromfile(config)
    cfg.resume = resume
    cfg.merge_from_dict(options)
    runner = build_runner(cfg, work_dir)
    hook = hook or SignalAt(at=0)
    runner.register_hook(hook)
    runner.train()
    return runner, hook


def parameters(runner) -> torch.Tensor:
    return torch.cat([v.flatten().float()
                      for v in runner.model.state_dict().values()])


CASES = {
    # Pre-training with k-NN after each of 2 epochs; drop path and the
    # masks draw from the main process's generators.
    'knn': ('simmim_vit-micro_1xb32_photos-96px.py',
            "val_cfg.update(interval=1)\n"
            "model['backbone']['drop_path_rate'] = 0.1\n"
            "val_cfg['bank_dataloader']['batch_size'] = 16"),
    # A linear probe validated after each of 2 epochs (MixUp and CutMix
    # draw from them).
    'classification': ('vit-micro-p16_1xb32-linear_photos-96px.py',
                       "train_cfg.update(val_interval=1)\n"
                       "val_dataloader.update(batch_size=8)"),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_a_signal_during_validation_saves_and_resume_repeats_it(
        tmp_path, photo_dataset, kamim_checkpoint, handlers_kept, case):
    base, extra = CASES[case]
    config = tiny_demo_config(tmp_path, photo_dataset, base, extra)
    options = {}
    if 'linear' in base:
        options['model.backbone.init_cfg.checkpoint'] = kamim_checkpoint
    straight, seen = run(config, tmp_path / 'straight', **options)
    assert len(seen.metrics) == 2

    work = tmp_path / 'work'
    hook = SignalAt(at=1)
    with pytest.raises(SystemExit) as stop:
        run(config, work, hook=hook, **options)
    assert stop.value.code == 143
    iteration = seen.metrics[0][0]  # the iterations of epoch 1
    log = next(work.glob('*/*.log')).read_text()
    assert ('stopped by SIGTERM during the validation, after its batch 1 '
            'of ') in log
    assert f'it picks {work / f"iter_{iteration}.pth"}; it runs the ' \
        'interrupted validation again first). Exit code 143' in log
    saved = torch.load(work / f'iter_{iteration}.pth', weights_only=True)
    assert saved['meta']['iter'] == iteration
    assert saved['meta']['epoch'] == 1
    assert saved['meta']['validation_interrupted'] is True
    # The generators as the validation found them, not as it left them
    # (its dataloaders draw from the global generator).
    assert torch.equal(saved['rng_states'][0]['torch'],
                       hook.training_generator)
    assert (work / 'last_checkpoint').read_text() == f'iter_{iteration}.pth'

    resumed, again = run(config, work, resume=True, **options)
    # The interrupted validation, then epoch 2 and its validation, as the
    # uninterrupted run had them.
    assert again.metrics == seen.metrics
    assert torch.equal(parameters(resumed), parameters(straight))


def test_a_signal_after_the_batches_stops_after_the_validation(
        tmp_path, photo_dataset, handlers_kept):
    """A signal while the k-NN scores (no batches left to look after):
    the run stops after the validation, which the resumed run does not
    repeat."""
    base, extra = CASES['knn']
    config = tiny_demo_config(tmp_path, photo_dataset, base, extra)

    class SignalWhileScoring(SignalAt):

        def before_val(self, runner) -> None:
            metric = runner.val_loop.metric
            score = metric.evaluate_features

            def signalled(*args):
                os.kill(os.getpid(), signal.SIGUSR1)
                return score(*args)

            metric.evaluate_features = signalled

    work = tmp_path / 'work'
    with pytest.raises(SystemExit) as stop:
        run(config, work, hook=SignalWhileScoring())
    assert stop.value.code == 138
    log = next(work.glob('*/*.log')).read_text()
    assert 'stopped by SIGUSR1 after the validation after iteration 2; ' \
        'continue with --resume' in log
    saved = torch.load(work / 'iter_2.pth', weights_only=True)
    assert 'validation_interrupted' not in saved['meta']
    _, again = run(config, work, resume=True)
    assert [iteration for iteration, _ in again.metrics] == [4]


def test_a_signal_during_a_test_writes_no_results(
        tmp_path, photo_dataset, kamim_checkpoint, handlers_kept):
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'vit-micro-p16_1xb32-linear_photos-96px.py',
                              "test_dataloader.update(batch_size=8)")
    run(config, tmp_path / 'probe',
        **{'model.backbone.init_cfg.checkpoint': kamim_checkpoint})
    cfg = Config.fromfile(config)
    cfg.load_from = str(tmp_path / 'probe' / 'epoch_2.pth')
    out = tmp_path / 'predictions.pkl'
    cfg.test_evaluator = [cfg.test_evaluator,
                          dict(type='DumpResults', out_file_path=str(out))]
    runner = build_runner(cfg, tmp_path / 'test')
    runner.register_hook(SignalAt(number=signal.SIGINT))
    with pytest.raises(SystemExit) as stop:
        runner.test()
    assert stop.value.code == 130
    log = next((tmp_path / 'test').glob('*/*.log')).read_text()
    assert 'stopped by SIGINT during the evaluation, after its batch 1 of ' \
        '5; no results written. Exit code 130' in log
    assert not out.exists()
