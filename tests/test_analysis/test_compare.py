import os.path as osp

from mmkamim.analysis.compare import keypoint_examples
from mmkamim.analysis.demo import EXAMPLE_PHOTOS


def test_examples_are_titled_by_their_class(photo_dataset):
    """An ImageFolder numbers its files within each class: the figure
    names the class too, so three photos are not all "000.png"."""
    paths = [osp.join(photo_dataset, 'val', name, '000.png')
             for name in EXAMPLE_PHOTOS]
    titles = [example['title'] for example in keypoint_examples(paths, 96)]
    assert titles == [f'{name}/000.png (96 px)' for name in EXAMPLE_PHOTOS]
