from .compare import (
    compare,
    keypoint_examples,
    markdown_table,
    pretrain_and_probe,
)

__all__ = [
    'compare', 'keypoint_examples', 'markdown_table', 'pretrain_and_probe'
]
