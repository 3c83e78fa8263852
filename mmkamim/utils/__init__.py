from .dist import process_group_closed_at_exit, setup_cpu_distributed
from .errors import UsageError, refused_without_traceback
from .image_files import image_files
from .keypoints_in_pipeline import keypoints_in_pipeline
from .project_dirs import project_dir

__all__ = [
    'UsageError', 'refused_without_traceback',
    'image_files', 'keypoints_in_pipeline', 'process_group_closed_at_exit',
    'project_dir', 'setup_cpu_distributed'
]
