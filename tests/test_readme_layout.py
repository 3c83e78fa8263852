"""README's layout block names every module of the package and every tool,
so a reader finds each file from it."""
import ast
import os
import os.path as osp
import re

from conftest import REPO_ROOT

TOOL_DIRS = ('tools/analysis_tools', 'tools/benchmarks',
             'tools/model_converters')


def layout_block() -> str:
    text = open(osp.join(REPO_ROOT, 'README.md')).read()
    section = text.split('\n## Layout\n', 1)[1]
    return section.split('```', 2)[1]


def named(words: set, *names: str) -> bool:
    return any(name in words for name in names)


def test_every_module_is_named_by_its_stem_or_a_class():
    words = set(re.findall(r'[A-Za-z_][A-Za-z0-9_]*', layout_block()))
    unnamed = []
    package = osp.join(REPO_ROOT, 'mmkamim')
    for folder, _, files in os.walk(package):
        for file in sorted(files):
            if not file.endswith('.py') or file == '__init__.py':
                continue
            path = osp.join(folder, file)
            tree = ast.parse(open(path).read())
            classes = [node.name for node in tree.body
                       if isinstance(node, ast.ClassDef)]
            if not named(words, file[:-3], *classes):
                unnamed.append(osp.relpath(path, REPO_ROOT))
    assert unnamed == [], f'name these in README\'s layout block: {unnamed}'


def test_every_tool_is_named_by_its_stem():
    words = set(re.findall(r'[A-Za-z_][A-Za-z0-9_]*', layout_block()))
    unnamed = [
        f'{folder}/{file}' for folder in TOOL_DIRS
        for file in sorted(os.listdir(osp.join(REPO_ROOT, folder)))
        if file.endswith(('.py', '.sh'))
        and file.rsplit('.', 1)[0] not in words
    ]
    assert unnamed == [], f'name these in README\'s layout block: {unnamed}'
