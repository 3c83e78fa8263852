from .compare import (
                      compare,
                      keypoint_examples,
                      markdown_table,
                      pretrain_and_probe,
                      summarise,
                      sweep_runs,
)
from .pipeline_trace import keypoint_view, trace_pipeline

__all__ = [
    'compare', 'keypoint_examples', 'keypoint_view', 'markdown_table',
    'pretrain_and_probe', 'summarise', 'sweep_runs', 'trace_pipeline'
]
