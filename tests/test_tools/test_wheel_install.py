"""A non-editable install carries the configs and tools, as MMPretrain's.

The wheel is built from a copy of this checkout (leaving no build/ in it),
installed with ``--no-deps`` into a
folder outside it, and used from a third folder: every tool answers
``--help`` without importing optional heavy packages, and the demo and the
comparison tool find the installed configs and tools.
"""
import glob
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

# Optional packages no tool may need just to start. (MMPretrain imports
# transformers when it is installed, so the tools run with these made
# unimportable: a tool that imports one at start fails.)
HEAVY = ('transformers', 'sklearn', 'tensorboard', 'wandb')

RUN_TOOL = f'''
import runpy, sys
for name in {HEAVY!r}:
    sys.modules[name] = None  # import fails
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as stop:
    assert stop.code in (0, None), stop.code
'''


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp('wheel')
    # Built from a copy: setuptools writes build/ and *.egg-info next to the
    # sources, which must not appear in the checkout.
    source = root / 'source'
    had_build = os.path.exists(os.path.join(REPO_ROOT, 'build'))
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'build', 'dist', 'work_dirs', 'data', '*.egg-info',
        '__pycache__', '.mim'))
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '-q', str(source),
         '--no-deps', '--no-build-isolation', '-w', str(root / 'dist')],
        check=True, capture_output=True, timeout=600)
    assert os.path.exists(os.path.join(REPO_ROOT, 'build')) == had_build
    (wheel, ) = glob.glob(str(root / 'dist' / 'mmkamim-*.whl'))
    site = root / 'site'
    subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--target', str(site), wheel],
        check=True, capture_output=True, timeout=600)
    elsewhere = root / 'elsewhere'
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    return site, elsewhere, env


def run(args, cwd, env):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_every_installed_tool_answers_help(installed):
    site, elsewhere, env = installed
    tools = sorted(glob.glob(str(site / 'mmkamim' / '.mim' / 'tools' / '**' /
                                 '*.py'), recursive=True))
    assert len(tools) >= 9
    for tool in tools:
        done = run([sys.executable, '-c', RUN_TOOL, tool], elsewhere, env)
        assert done.returncode == 0, (tool, done.stderr[-2000:])
    done = run([sys.executable, '-m', 'mmkamim.demo', '--help'], elsewhere,
               env)
    assert done.returncode == 0 and 'work-dir' in done.stdout


@pytest.mark.slow
def test_the_demo_and_comparison_find_the_installed_configs(installed):
    site, elsewhere, env = installed
    code = '''
import os.path as osp
import mmkamim
from mmkamim.analysis.demo import DEMO_PROBE, DEMO_RUNS, demo_config
from mmkamim.utils import project_dir
assert mmkamim.__file__.startswith(%r), mmkamim.__file__
for name in list(DEMO_RUNS.values()) + [DEMO_PROBE]:
    assert osp.isfile(demo_config(name)), demo_config(name)
    assert '.mim' in demo_config(name)
assert osp.isfile(osp.join(project_dir('tools'), 'train.py'))
# MMPretrain's model API finds the installed configs.
import mmpretrain
names = mmpretrain.list_models('*kamim*')
assert 'kamim_vit-base_8xb256_in1k' in names, names
from mmpretrain.apis.model import ModelHub
config = ModelHub._models_dict['kamim_vit-base_8xb256_in1k'].config
assert '.mim' in config and osp.isfile(config), config
print('ok')
''' % str(site)
    done = run([sys.executable, '-c', code], elsewhere, env)
    assert done.returncode == 0 and 'ok' in done.stdout, done.stderr[-2000:]
