"""Read what a stage logged: mmengine's ``vis_data/scalars.json``."""
import glob
import json
import os.path as osp
from typing import Dict, List


def read_scalars(work_dir: str) -> List[dict]:
    """The scalar records a stage logged, one dict per logged step.

    A resumed stage has one log per start: they are read oldest first, and
    a step logged again after a resume replaces the earlier record.
    """
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    if not logs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    records: Dict = {}
    for path in logs:
        with open(path) as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    key = (record.get('step'), 'loss' in record,
                           'accuracy/top1' in record, 'knn/top1' in record)
                    records.pop(key, None)
                    records[key] = record
    return list(records.values())
