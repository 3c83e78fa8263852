"""ImageFolder: any folder of images with one option, ImageNet by its list."""
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import CONFIG_DIR
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import mmkamim.datasets.image_folder as image_folder
from mmkamim.utils import UsageError


def write_images(root, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))


def paths(dataset, root):
    return sorted(
        osp.relpath(dataset.get_data_info(i)['img_path'], root)
        for i in range(len(dataset)))


def build(**kwargs):
    init_default_scope('mmpretrain')
    return DATASETS.build(dict(type='ImageFolder', pipeline=[], **kwargs))


def test_any_nested_folder(tmp_path):
    write_images(tmp_path, ['a/b/1.jpg', 'a/2.png', 'c/3.JPEG', '4.jpg'])
    (tmp_path / 'notes.txt').write_text('not an image')
    assert paths(build(data_root=str(tmp_path)), tmp_path) == [
        '4.jpg', 'a/2.png', 'a/b/1.jpg', 'c/3.JPEG'
    ]


def test_imagenet_by_its_list_when_present(tmp_path):
    write_images(tmp_path, ['train/n01/x.JPEG', 'train/n02/y.JPEG',
                            'train/n02/not_listed.JPEG'])
    assert len(build(data_root=str(tmp_path))) == 3  # no list: a scan
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text(
        'n01/x.JPEG 0\nn02/y.JPEG 1\n')
    assert paths(build(data_root=str(tmp_path)), tmp_path) == [
        'train/n01/x.JPEG', 'train/n02/y.JPEG'
    ]


def test_pretraining_configs_take_a_labelled_folder_with_one_option(
        photo_dataset):
    """18 class folders used to fail against ImageNet's 1000 classes."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR,
                                   'kamim_vit-base_8xb256_in1k.py'))
    cfg.merge_from_dict(
        {'train_dataloader.dataset.data_root': photo_dataset})
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    # photo_dataset has train/ and val/: the train/ images, labels ignored.
    assert len(dataset) == 18 * 3
    assert 'gt_label' not in dataset.get_data_info(0)


def test_every_format_opencv_reads_and_a_line_for_the_rest(tmp_path,
                                                           monkeypatch):
    write_images(tmp_path, ['1.webp', '2.tiff', '3.TIF', '4.JPG', '5.bmp',
                            'photo.jpg/6.png'])
    (tmp_path / 'notes.txt').write_text('not an image')
    (tmp_path / 'gone.jpg').symlink_to(tmp_path / 'nowhere.jpg')
    logged = []
    monkeypatch.setattr(image_folder, 'print_log',
                        lambda message, **kwargs: logged.append(message))
    dataset = build(data_root=str(tmp_path))
    assert paths(dataset, tmp_path) == [
        '1.webp', '2.tiff', '3.TIF', '4.JPG', '5.bmp', 'photo.jpg/6.png']
    assert (f'ImageFolder left out of {tmp_path}: 1 folders named like '
            'images (photo.jpg); 1 files with other extensions '
            '(notes.txt); 1 broken links (gone.jpg)') in logged
    for name in ('1.webp', '2.tiff', '4.JPG'):  # decodable, as listed
        assert cv2.imread(str(tmp_path / name)) is not None


def test_a_list_naming_missing_files_stops_at_start_up(tmp_path):
    write_images(tmp_path, ['train/n01/x.JPEG'])
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text(
        'n01/x.JPEG 0\nn01/gone.JPEG 0\nn02/y.JPEG 1\n')
    with pytest.raises(UsageError, match=r'meta/train.txt names 2 files '
                       r'that do not exist under .*train: n01/gone.JPEG, '
                       r'n02/y.JPEG'):
        build(data_root=str(tmp_path))


def test_an_empty_folder_is_named(tmp_path):
    (tmp_path / 'notes.txt').write_text('not an image')
    with pytest.raises(UsageError, match=f'no images under {tmp_path}'):
        build(data_root=str(tmp_path))
