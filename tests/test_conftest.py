"""The tests' own run helper keeps runs apart even when mmengine would not.

mmengine names a run after its config file and the second it started; two
runs of one config in the same second share a logger (and write into one
log file). ``build_runner`` gives every run a name of its own.
"""
import os
import time
import types

import mmengine.runner.runner as runner_module
import pytest
from conftest import build_runner, tiny_vit_config
from mmengine.config import Config
from mmengine.runner import Runner


def frozen_clock(monkeypatch, seconds: float) -> None:
    """Make the Runner read one fixed time, as two runs started in the same
    second on a fast machine do."""
    clock = types.SimpleNamespace(**{
        name: getattr(time, name) for name in dir(time)
        if not name.startswith('_')})
    clock.time = lambda: seconds
    monkeypatch.setattr(runner_module, 'time', clock)


def test_runs_started_in_the_same_second_keep_their_own_logs(
        tmp_path, image_folder, monkeypatch):
    frozen_clock(monkeypatch, 1.8e9)
    config = tiny_vit_config(tmp_path, image_folder,
                             'kamim_vit-base_8xb256_in1k.py',
                             "train_cfg['max_iters'] = 1")

    # What the helper prevents: mmengine alone hands both runs one logger.
    plain = []
    for name in ('plain_a', 'plain_b'):
        cfg = Config.fromfile(config)
        cfg.work_dir = str(tmp_path / name)
        plain.append(Runner.from_cfg(cfg))
    assert plain[0].timestamp == plain[1].timestamp
    assert plain[0].logger is plain[1].logger

    runners = {}
    for name in ('first', 'second'):
        runner = build_runner(Config.fromfile(config), tmp_path / name)
        runner.logger.info(f'message of the {name} run')
        runner.train()
        runners[name] = runner
    first, second = runners['first'], runners['second']
    assert first.timestamp == second.timestamp
    assert first.logger is not second.logger
    for name, runner in runners.items():
        other = 'second' if name == 'first' else 'first'
        log = open(runner.logger.handlers[-1].baseFilename).read()
        assert str(tmp_path / name) in runner.logger.handlers[-1].baseFilename
        assert f'message of the {name} run' in log
        assert f'message of the {other} run' not in log
        assert 'Iter(train) [1/1]' in log


def test_property_tests_draw_the_same_examples_every_run():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    if os.environ.get('HYPOTHESIS_PROFILE', 'derandomized') != 'derandomized':
        pytest.skip('HYPOTHESIS_PROFILE chose random draws')
    assert settings.default.derandomize

    def draws():
        seen = []

        @settings(max_examples=20)
        @given(st.integers())
        def record(value):
            seen.append(value)

        record()
        return seen

    assert draws() == draws()
