"""Places365 from its official file lists, paths as they are written."""
import cv2
import numpy as np
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS


def test_official_lists(tmp_path):
    train = ['/a/airfield/00000001.jpg 0', '/b/bakery/shop/00000002.jpg 28']
    val = ['Places365_val_00000001.jpg 165', 'Places365_val_00000002.jpg 1']
    (tmp_path / 'places365_train_standard.txt').write_text('\n'.join(train))
    (tmp_path / 'places365_val.txt').write_text('\n'.join(val) + '\n')
    for path in ['data_256/a/airfield/00000001.jpg',
                 'data_256/b/bakery/shop/00000002.jpg',
                 'val_256/Places365_val_00000001.jpg',
                 'val_256/Places365_val_00000002.jpg']:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / path), np.zeros((4, 4, 3), np.uint8))
    init_default_scope('mmpretrain')
    for split, labels in (('train', [0, 28]), ('val', [165, 1])):
        dataset = DATASETS.build(dict(
            type='Places365', data_root=str(tmp_path), split=split,
            pipeline=[dict(type='LoadImageFromFile')]))
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [info['gt_label'] for info in infos] == labels
        for i, info in enumerate(infos):
            # Every listed path resolves to its image inside data_root.
            assert info['img_path'].startswith(str(tmp_path))
            assert dataset[i]['img'].shape == (4, 4, 3)
