"""The released-checkpoint converter against Hugging Face's own models.

Hugging Face's ``ViTForMaskedImageModeling`` and
``SwinForMaskedImageModeling`` (transformers 4.x, the key names of the
released files) are built with random weights, converted, and compared with
our pre-training models, probes and fine-tuning backbones on the same
images and masks.
"""
import importlib
import os.path as osp
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import transformers
from conftest import CONFIG_DIR, REPO_ROOT, tool_error_line
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmkamim.engine.hooks import CheckPretrainedHook

if int(transformers.__version__.split('.')[0]) >= 5:
    pytest.skip('the released checkpoints use transformers 4.x key names',
                allow_module_level=True)

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters',
                'hf_simmim_to_mmkamim.py')
TOLERANCE = 1e-4
HF_VIT_EPS = {'model.backbone.norm_cfg.eps': 1e-12}


def converter_module():
    return importlib.import_module('mmkamim.utils.hf_simmim')


def perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """Move every parameter off its init (LayerNorms start at 1 and 0, which
    would hide a swapped or transposed norm)."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=generator))
    return model.eval()


@pytest.fixture(scope='module')
def hf_vit():
    config = transformers.ViTConfig(
        hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
        intermediate_size=768, image_size=192, patch_size=16,
        encoder_stride=16)
    torch.manual_seed(0)
    return perturbed(transformers.ViTForMaskedImageModeling(config))


@pytest.fixture(scope='module')
def hf_swin():
    config = transformers.SwinConfig(
        image_size=192, embed_dim=96, depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24], window_size=6, encoder_stride=32)
    torch.manual_seed(0)
    return perturbed(transformers.SwinForMaskedImageModeling(config))


def run_converter(src, dst, *extra):
    """Run the tool as a user would, with transformers made unimportable:
    this direction needs torch only."""
    code = ("import runpy, sys; sys.modules['transformers'] = None; "
            'sys.argv = sys.argv[1:]; '
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run(
        [sys.executable, '-c', code, TOOL, str(src), str(dst), *extra],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope='module')
def converted(tmp_path_factory, hf_vit, hf_swin):
    """Both models saved as the authors did (ViT bare, Swin wrapped with its
    optimiser state) and converted by the tool."""
    root = tmp_path_factory.mktemp('released')
    torch.save(hf_vit.state_dict(), root / 'vit.pth')
    optim = torch.optim.AdamW(hf_swin.parameters())
    torch.save(dict(model_state_dict=hf_swin.state_dict(),
                    optim_state_dict=optim.state_dict()), root / 'swin.pth')
    out = {}
    for name in ('vit', 'swin'):
        out[name] = root / f'{name}_mmkamim.pth'
        out[name + '_log'] = run_converter(root / f'{name}.pth', out[name])
    return out


def build(config: str, options: dict = None, checkpoint=None):
    """Build a config's model as training would, with ``--cfg-options``
    ``options``; with a checkpoint, CheckPretrainedHook must pass first."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    cfg.merge_from_dict(options or {})
    init_default_scope('mmpretrain')
    if checkpoint is not None:
        cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
        model = MODELS.build(cfg.model)
        CheckPretrainedHook().before_run(SimpleNamespace(cfg=cfg, model=model))
    else:
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def images_and_masks(grid: int):
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 192, 192, generator=generator)
    masks = (torch.rand(2, grid, grid, generator=generator) < 0.6).float()
    return images, masks


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, printed for docs (run with ``-s``)."""
    assert a.shape == b.shape
    value = (a - b).abs().max().item()
    print(f'\n{sys._getframe(1).f_code.co_name}: max abs {value:.2e}')
    return value


def test_output_is_a_weights_only_mmengine_checkpoint(converted):
    vit = torch.load(converted['vit'], weights_only=True)
    swin = torch.load(converted['swin'], weights_only=True)
    assert (vit['meta']['arch'], swin['meta']['arch']) == ('vit-tiny',
                                                          'swin-tiny')
    for checkpoint in (vit, swin):
        assert {k.split('.')[0] for k in checkpoint['state_dict']} == {
            'backbone', 'neck'}
    # The converter tells ViT users how to match Hugging Face's LayerNorm.
    assert 'model.backbone.norm_cfg.eps=1e-12' in converted['vit_log']
    assert 'norm_cfg.eps' not in converted['swin_log']


@pytest.mark.parametrize('algorithm', ['simmim', 'kamim'])
def test_vit_reconstruction_equals_hugging_face(converted, hf_vit, algorithm):
    model = build(f'{algorithm}_vit-tiny_8xb256_in1k.py', HF_VIT_EPS)
    state = torch.load(converted['vit'], weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    images, masks = images_and_masks(12)
    with torch.no_grad():
        ours = model.neck(model.backbone(images, masks)[0])
        theirs = hf_vit(images, bool_masked_pos=masks.flatten(1).bool())
    assert max_abs(ours, theirs.reconstruction) < TOLERANCE


@pytest.mark.parametrize('algorithm', ['simmim', 'kamim'])
def test_swin_reconstruction_equals_hugging_face(converted, hf_swin,
                                                 algorithm):
    model = build(f'{algorithm}_swin-tiny-w6_8xb256_in1k.py')
    state = torch.load(converted['swin'], weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    images, masks = images_and_masks(48)
    with torch.no_grad():
        ours = model.neck(model.backbone(images, masks)[0])
        theirs = hf_swin(images, bool_masked_pos=masks.flatten(1).bool())
    assert max_abs(ours, theirs.reconstruction) < TOLERANCE


def test_vit_probe_reads_hugging_face_hidden_state_8(converted, hf_vit):
    probe = build('benchmarks/vit-tiny-p16_8xb256-linear-coslr-100e_in1k.py',
                  HF_VIT_EPS, converted['vit'])
    images, _ = images_and_masks(12)
    with torch.no_grad():
        (ours, ) = probe.extract_feat(images)
        hidden = hf_vit.vit(images, output_hidden_states=True).hidden_states
    assert max_abs(ours, hidden[8][:, 1:].mean(1)) < TOLERANCE


def test_swin_probe_reads_hugging_face_last_hidden_state(converted, hf_swin):
    probe = build('benchmarks/swin-tiny-w6_8xb256-linear-coslr-100e_in1k.py',
                  checkpoint=converted['swin'])
    images, _ = images_and_masks(12)
    with torch.no_grad():
        (ours, ) = probe.extract_feat(images)
        hidden = hf_swin.swin(images, output_hidden_states=True).hidden_states
    assert max_abs(ours, hidden[-1].mean(1)) < TOLERANCE


@pytest.mark.parametrize('family,config,options', [
    ('vit', 'vit-tiny-p16_8xb256-finetune-coslr-100e_in1k.py', HF_VIT_EPS),
    ('swin', 'swin-tiny-w6_8xb256-finetune-coslr-100e_in1k.py', {}),
])
def test_finetune_backbone_is_filled_and_matches_hugging_face(
        converted, hf_vit, hf_swin, family, config, options):
    model = build(f'benchmarks/{config}', options, converted[family])
    state = torch.load(converted[family], weights_only=True)['state_dict']
    for name, param in model.backbone.named_parameters():
        assert torch.equal(param, state[f'backbone.{name}']), name
    images, _ = images_and_masks(12)
    with torch.no_grad():
        (ours, ) = model.extract_feat(images)
        if family == 'vit':
            last = hf_vit.vit(images).last_hidden_state[:, 1:]
        else:
            last = hf_swin.swin(images).last_hidden_state
    # The released fine-tuning scripts pool the final-normed tokens.
    assert max_abs(ours, last.mean(1)) < TOLERANCE


def test_swin_patch_merging_order_matters(hf_swin):
    """Without the reorder the patch-merging weights land on the wrong
    neighbours; this is what makes the parity tests above meaningful."""
    module = converter_module()
    state, _ = module.convert(hf_swin.state_dict())
    hf_weight = hf_swin.state_dict()[
        'swin.encoder.layers.0.downsample.reduction.weight']
    ours = state['backbone.stages.0.downsample.reduction.weight']
    channels = 96
    # MMPretrain's merged channel c * 4 + 2 * row + col is Hugging Face's
    # neighbour (row, col) -> 0, 1, 2, 3 for (0,0), (1,0), (0,1), (1,1).
    for row, col, neighbour in [(0, 0, 0), (1, 0, 1), (0, 1, 2), (1, 1, 3)]:
        for c in (0, 5, 95):
            assert torch.equal(ours[:, c * 4 + 2 * row + col],
                               hf_weight[:, neighbour * channels + c])


def test_unknown_key_stops_the_converter_with_its_name(hf_vit):
    module = converter_module()
    state = dict(hf_vit.state_dict())
    state['vit.encoder.layer.0.attention.attention.extra.weight'] = \
        torch.zeros(1)
    with pytest.raises(ValueError, match='attention.extra.weight'):
        module.convert(state)
    # The pooler is on the commented drop list.
    state.pop('vit.encoder.layer.0.attention.attention.extra.weight')
    state['vit.pooler.dense.weight'] = torch.zeros(192, 192)
    state['vit.pooler.dense.bias'] = torch.zeros(192)
    _, meta = module.convert(state)
    assert meta['dropped_keys'] == ['vit.pooler.dense.bias',
                                    'vit.pooler.dense.weight']


def test_arch_must_agree_with_the_shapes(hf_vit):
    module = converter_module()
    with pytest.raises(ValueError, match='--arch vit-base does not fit'):
        module.convert(hf_vit.state_dict(), 'vit-base')
    assert module.convert(hf_vit.state_dict(), 'vit-tiny')[1]['arch'] == \
        'vit-tiny'


def test_transformers_5_names_are_explained(hf_vit):
    module = converter_module()
    state = {'vit.layers.0.attention.q_proj.weight': torch.zeros(1)}
    with pytest.raises(ValueError, match='transformers 5'):
        module.convert(state)


def test_a_nonstandard_relative_position_index_stops_the_converter(hf_swin):
    module = converter_module()
    state = dict(hf_swin.state_dict())
    key = ('swin.encoder.layers.1.blocks.0.attention.self.'
           'relative_position_index')
    state[key] = state[key].flip(0)
    with pytest.raises(ValueError, match='layers.1.blocks.0'):
        module.convert(state)


@pytest.mark.parametrize('family', ['vit', 'swin'])
def test_every_missing_key_stops_the_conversion_naming_it(hf_vit, hf_swin,
                                                          family):
    """Each key deleted in turn: the conversion stops naming it, unless the
    released files may lack it by design (the converter's OPTIONAL_KEYS)."""
    module = converter_module()
    full = (hf_vit if family == 'vit' else hf_swin).state_dict()
    optional = 0
    for key in full:
        state = {k: v for k, v in full.items() if k != key}
        if any(re.fullmatch(p, key) for p in module.OPTIONAL_KEYS):
            module.convert(state)  # rebuilt
            optional += 1
            continue
        with pytest.raises(module.ConversionError,
                           match=re.escape(repr(key))):
            module.convert(state)
    assert optional == (0 if family == 'vit' else 12)


def test_files_that_are_not_checkpoints_get_one_line(tmp_path, hf_vit):
    text = tmp_path / 'notes.pth'
    text.write_text('hello')
    done = subprocess.run([sys.executable, TOOL, str(text),
                           str(tmp_path / 'out.pth')],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and 'Traceback' not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f'error: {text} is not a PyTorch checkpoint (a file written by '
        'torch.save)')
    # A pickle that runs code when loaded.
    code = tmp_path / 'code.pth'
    torch.save({'state': print}, code)
    assert tool_error_line(TOOL, code, tmp_path / 'out.pth').startswith(
        f'error: {code} holds Python objects that run code when loaded')
    # An incomplete file, as a user meets it.
    state = dict(hf_vit.state_dict())
    del state['decoder.0.weight']
    torch.save(state, tmp_path / 'partial.pth')
    assert "missing, so the file is not a complete released checkpoint: " \
        "['decoder.0.weight']" in tool_error_line(
            TOOL, tmp_path / 'partial.pth', tmp_path / 'out.pth')
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('family, block', [
    ('vit', 'vit.encoder.layer.5.'),
    ('vit', 'vit.encoder.layer.11.'),
    ('swin', 'swin.encoder.layers.2.blocks.3.'),
    ('swin', 'swin.encoder.layers.2.blocks.5.'),
])
def test_a_whole_missing_block_is_named_by_its_tensors(hf_vit, hf_swin,
                                                        family, block):
    module = converter_module()
    full = (hf_vit if family == 'vit' else hf_swin).state_dict()
    lost = sorted(k for k in full if k.startswith(block)
                  and not any(re.fullmatch(p, k)
                              for p in module.OPTIONAL_KEYS))
    state = {k: v for k, v in full.items() if not k.startswith(block)}
    with pytest.raises(module.ConversionError) as error:
        module.convert(state)
    message = str(error.value)
    model = 'vit-tiny' if family == 'vit' else 'swin-tiny'
    assert message.startswith(f'{len(lost)} weights of the ') and \
        f'{model} model are missing' in message, message
    for key in lost:
        assert repr(key) in message, (key, message)
