"""Bad images in a pre-training folder: each trains correctly or stops the
run naming the file; none is skipped unless asked, and then each is named.

The folders go through the shipped KAMIM ViT config (shrunk), with two
dataloader workers, on both keypoint paths.
"""
import os
import shutil
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, build_runner, tiny_vit_config
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from PIL import Image

from mmkamim.datasets.sample_photos import load_photo
from mmkamim.utils import keypoints_in_pipeline

READABLE = ['gray.png', 'gray_alpha.png', 'rgba.png', 'palette.png',
            'sixteen_bit.png', 'cmyk.jpg', 'tiny_10x10.jpg',
            'large_6000x4000.jpg', 'wide_4000x20.jpg', 'tall_20x4000.jpg']
UNREADABLE = ['truncated.jpg', 'corrupt.jpg', 'zero_bytes.jpg',
              'text_file.png']


@pytest.fixture(scope='module')
def image_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('kinds')
    bgr = cv2.resize(load_photo('astronaut'), (256, 256))
    rgb = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))
    for i, name in enumerate(['coffee', 'chelsea', 'rocket', 'camera']):
        cv2.imwrite(str(root / f'good_{i}.jpg'), load_photo(name))
    rgb.convert('L').save(root / 'gray.png')
    rgb.convert('LA').save(root / 'gray_alpha.png')
    rgb.convert('RGBA').save(root / 'rgba.png')
    rgb.convert('P').save(root / 'palette.png')
    cv2.imwrite(str(root / 'sixteen_bit.png'), bgr.astype(np.uint16) * 257)
    rgb.convert('CMYK').save(root / 'cmyk.jpg')
    cv2.imwrite(str(root / 'tiny_10x10.jpg'), cv2.resize(bgr, (10, 10)))
    cv2.imwrite(str(root / 'large_6000x4000.jpg'),
                cv2.resize(bgr, (6000, 4000)))
    cv2.imwrite(str(root / 'wide_4000x20.jpg'), cv2.resize(bgr, (4000, 20)))
    cv2.imwrite(str(root / 'tall_20x4000.jpg'), cv2.resize(bgr, (20, 4000)))
    jpeg = (root / 'good_0.jpg').read_bytes()
    (root / 'truncated.jpg').write_bytes(jpeg[:len(jpeg) // 2])
    rng = np.random.default_rng(0)
    (root / 'corrupt.jpg').write_bytes(
        jpeg[:600] + rng.integers(0, 256, len(jpeg) - 600,
                                  dtype=np.uint8).tobytes())
    (root / 'zero_bytes.jpg').write_bytes(b'')
    (root / 'text_file.png').write_text('not an image\n')
    return root


def folder(tmp_path, files, names):
    """A training folder with the good photos and ``names``."""
    root = tmp_path / 'data'
    root.mkdir()
    for name in [f'good_{i}.jpg' for i in range(4)] + list(names):
        shutil.copy(files / name, root / name)
    return str(root)


ONE_EPOCH = """
train_dataloader.update(num_workers=2)
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=1)
default_hooks['checkpoint'] = dict(type='AtomicCheckpointHook', interval=1)
log_processor = dict(by_epoch=True)
"""


def run(tmp_path, data_root, on_device=True, work='work', **options):
    """Train one epoch (every file once) of the shrunk KAMIM ViT config.

    Runs that stop with an error use no worker processes: workers left
    behind by an interrupted dataloader stall the next in-process run by
    10 s when they are collected (an mmengine/torch interaction, see
    ../shared/STACK_NOTES.md); one test checks the workers' error in a
    separate process.
    """
    config = tiny_vit_config(tmp_path, data_root,
                             'kamim_vit-base_8xb256_in1k.py', ONE_EPOCH)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    if not on_device:
        keypoints_in_pipeline(cfg)
    runner = build_runner(cfg, tmp_path / work)
    runner.train()
    return runner


NO_WORKERS = {'train_dataloader.num_workers': 0}


@pytest.mark.parametrize('on_device', [True, False])
def test_readable_kinds_train_as_cv2_reads_them(tmp_path, image_files,
                                                on_device):
    runner = run(tmp_path, folder(tmp_path, image_files, READABLE),
                 on_device)
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 7 and np.isfinite(losses).all()  # 14 files
    # What the pipeline (and so KeypointDensity or the device path) sees is
    # exactly cv2.imread(path, IMREAD_COLOR): 8-bit BGR, alpha dropped.
    load = LoadImageFromFile()
    for name in READABLE:
        path = str(image_files / name)
        expected = cv2.imread(path, cv2.IMREAD_COLOR)
        assert np.array_equal(load(dict(img_path=path))['img'], expected)


@pytest.mark.parametrize('name', UNREADABLE)
def test_an_unreadable_file_stops_the_run_naming_it(tmp_path, image_files,
                                                    name):
    data = folder(tmp_path, image_files, [name])
    with pytest.raises(Exception) as error:
        run(tmp_path, data, **NO_WORKERS)
    assert f'cannot read image {os.path.join(data, name)}' in str(
        error.value)
    assert 'train_dataloader.sampler.skip_unreadable' in str(error.value)


def test_a_worker_s_error_names_the_file_too(tmp_path, image_files):
    data = folder(tmp_path, image_files, ['zero_bytes.jpg'])
    config = tiny_vit_config(tmp_path, data, 'kamim_vit-base_8xb256_in1k.py',
                             ONE_EPOCH)
    done = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, 'tools', 'train.py'),
         config, '--work-dir', str(tmp_path / 'work')],
        capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert 'Caught UnreadableImageError in DataLoader worker process' in \
        done.stderr
    assert f'cannot read image {os.path.join(data, "zero_bytes.jpg")}' in \
        done.stderr


def test_a_pipeline_returning_none_cannot_hide_a_file(tmp_path,
                                                      image_files):
    """mmengine answers None with a random other image: not here."""
    data = folder(tmp_path, image_files, ['zero_bytes.jpg'])
    with pytest.raises(Exception, match='cannot read image .*zero_bytes'):
        run(tmp_path, data, **NO_WORKERS, **{
            'train_dataloader.dataset.pipeline.0.ignore_empty': True})


def test_skipping_counts_distinct_files_over_workers_and_epochs(
        tmp_path, image_files):
    """Two bad files met in every one of 3 epochs, by either of 2 workers:
    2 distinct files, each named once, within skip_unreadable=2."""
    data = folder(tmp_path, image_files, ['truncated.jpg', 'text_file.png'])
    skip = {'train_dataloader.sampler.skip_unreadable': 2,
            'train_cfg.max_epochs': 3}
    first = run(tmp_path, data, work='first', **skip)
    hook = next(h for h in first.hooks
                if type(h).__name__ == 'ReproducibilityHook')
    bad = {os.path.join(data, n) for n in ('truncated.jpg', 'text_file.png')}
    assert hook.skipped == bad
    log = open(first.logger.handlers[-1].baseFilename).read()
    for path in bad:
        assert log.count(path) == 1
    assert '2 distinct unreadable images skipped so far' in log
    checkpoint = torch.load(tmp_path / 'first' / 'epoch_3.pth',
                            weights_only=True)
    assert checkpoint['meta']['skipped_images'] == sorted(bad)
    # The replacements are drawn from the seeded generators: same run.
    second = run(tmp_path, data, work='second', **skip)
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    # Past the limit the run stops, naming what it skipped.
    with pytest.raises(Exception, match='2 distinct unreadable images, more '
                       'than train_dataloader.sampler.skip_unreadable=1'):
        run(tmp_path, data, work='third', **NO_WORKERS, **{
            'train_dataloader.sampler.skip_unreadable': 1})


def forged_png(path, width: int, height: int) -> None:
    """A small PNG whose header declares ``width`` x ``height``."""
    ok, data = cv2.imencode('.png', np.zeros((8, 8, 3), np.uint8))
    data = bytearray(data.tobytes())
    # IHDR: length (4), type (4), width (4), height (4), ..., CRC after 13.
    data[16:24] = struct.pack('>II', width, height)
    data[29:33] = struct.pack('>I', zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def test_a_huge_declared_size_is_refused_before_decoding(tmp_path,
                                                         image_files):
    data = folder(tmp_path, image_files, [])
    forged_png(tmp_path / 'data' / 'huge.png', 30000, 30000)
    with pytest.raises(Exception, match=r'cannot read image .*huge.png: '
                       r'ValueError: its header declares 30000 x 30000 = '
                       r'900000000 pixels, more than max_pixels=100000000'):
        run(tmp_path, data, work='stops', **NO_WORKERS)
    runner = run(tmp_path, data, work='skips', **NO_WORKERS, **{
        'train_dataloader.sampler.skip_unreadable': 1})
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'ReproducibilityHook')
    assert hook.skipped == {os.path.join(data, 'huge.png')}
