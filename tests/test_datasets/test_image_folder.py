"""ImageFolder: any folder of images with one option, ImageNet by its list."""
import os.path as osp

import cv2
import numpy as np
from conftest import CONFIG_DIR
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS


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
