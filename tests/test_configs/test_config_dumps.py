"""Every shipped config merges to what the stored listing says.

Refactoring internals must not change a config. When a change is meant to,
regenerate the listing and review its diff:

    python tests/test_configs/test_config_dumps.py --update
"""
import glob
import hashlib
import json
import os.path as osp
import sys

from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LISTING = osp.join(REPO_ROOT, 'tests', 'data', 'config_dumps.json')


def dumps() -> dict:
    """Each config (relative path) with the SHA-256 of its merged content
    (canonical JSON: mmengine's pretty_text depends on the yapf
    version)."""
    listing = {}
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                                 recursive=True)):
        if '_base_' in path:
            continue
        text = json.dumps(Config.fromfile(path).to_dict(), sort_keys=True,
                          default=repr)
        listing[osp.relpath(path, REPO_ROOT)] = hashlib.sha256(
            text.encode()).hexdigest()
    return listing


def test_every_config_dumps_as_listed():
    with open(LISTING) as f:
        stored = json.load(f)
    current = dumps()
    assert sorted(current) == sorted(stored)
    changed = [name for name in current if current[name] != stored[name]]
    assert changed == [], f'{changed} changed; see this file\'s docstring'


if __name__ == '__main__' and sys.argv[1:] == ['--update']:
    with open(LISTING, 'w') as f:
        json.dump(dumps(), f, indent=1, sort_keys=True)
        f.write('\n')
