"""Checkpoints that would run code, or that were cut off while being
written, never load quietly: the run stops naming the file, or resumes from
the previous good checkpoint."""
import os

import pytest
import torch
from conftest import tiny_demo_config, tiny_vit_config, train_in_process


class RunsCode:
    """Unpickling this calls ``os.system``: what a malicious file does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def malicious_checkpoint(tmp_path, state_dict) -> str:
    path = tmp_path / 'malicious.pth'
    torch.save(dict(meta=dict(epoch=0, iter=1), state_dict=state_dict,
                    payload=RunsCode(tmp_path / 'PWNED')), path)
    return str(path)


@pytest.fixture
def pretrain_config(tmp_path, image_folder):
    return tiny_vit_config(tmp_path, image_folder,
                           'kamim_vit-base_8xb256_in1k.py')


@pytest.mark.parametrize('resume', [True, False])
def test_resume_and_load_from_refuse_code(tmp_path, pretrain_config, resume):
    path = malicious_checkpoint(tmp_path, {})
    with pytest.raises(ValueError, match=f'checkpoint {path} holds Python '
                       r'objects that run code when loaded \(posix.system'):
        train_in_process(pretrain_config, tmp_path / 'work', load_from=path,
            resume=resume)
    assert not (tmp_path / 'PWNED').exists()


def test_probe_init_cfg_refuses_code(tmp_path, photo_dataset):
    path = malicious_checkpoint(tmp_path, {})
    config = tiny_demo_config(tmp_path, photo_dataset,
                              'vit-micro-p16_1xb32-linear_photos-96px.py')
    with pytest.raises(ValueError, match='holds Python objects that run '
                       'code'):
        train_in_process(config, tmp_path / 'probe',
            **{'model.backbone.init_cfg.checkpoint': path})
    assert not (tmp_path / 'PWNED').exists()


def test_checkpoint_cut_off_mid_write(tmp_path, pretrain_config):
    work = tmp_path / 'work'
    train_in_process(pretrain_config, work, **{'train_cfg.max_iters': 2,
                                  'default_hooks.checkpoint.interval': 1})
    # A kill while iter_2.pth was written: mmengine updates last_checkpoint
    # only after a save completes, so it still names iter_1.pth.
    latest = work / 'iter_2.pth'
    latest.write_bytes(latest.read_bytes()[:latest.stat().st_size // 2])
    (work / 'last_checkpoint').write_text(str(work / 'iter_1.pth'))
    # Naming the broken file stops the run and says what is wrong.
    with pytest.raises(ValueError, match=f'checkpoint {latest} cannot be '
                       'read .* cut off while it was being written'):
        train_in_process(pretrain_config, work, load_from=str(latest),
                         resume=True)
    # Resuming the work dir takes the last complete checkpoint.
    runner = train_in_process(pretrain_config, work, resume=True,
                 **{'train_cfg.max_iters': 3})
    assert runner.iter == 3
    log = max(work.glob('*/*.log'), key=os.path.getmtime).read_text()
    assert 'resumed epoch: 0, iter: 1' in log
    assert torch.load(work / 'iter_3.pth',
                      weights_only=True)['meta']['iter'] == 3
