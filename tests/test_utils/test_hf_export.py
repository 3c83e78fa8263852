"""Our SimMIM/KAMIM pre-training checkpoints as Hugging Face models, and
back: round trips change nothing, and transformers computes what we do."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
import transformers
from conftest import CONFIG_DIR, REPO_ROOT, tool_error_line
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from safetensors.torch import save_file

from mmkamim.utils.hf_export import export_to_hugging_face
from mmkamim.utils.hf_files import read_hf_checkpoint
from mmkamim.utils.hf_simmim import ConversionError, convert, to_hugging_face

if int(transformers.__version__.split('.')[0]) >= 5:
    pytest.skip('the Hugging Face names are transformers 4.x ones',
                allow_module_level=True)

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters', 'mmkamim_to_hf.py')
PRETRAINING = {
    'vit-tiny': 'simmim_vit-tiny_8xb256_in1k.py',
    'vit-small': 'simmim_vit-small_8xb256_in1k.py',
    'vit-base': 'kamim_vit-base_8xb256_in1k.py',
    'swin-tiny': 'kamim_swin-tiny-w6_8xb256_in1k.py',
    'swin-base': 'simmim_swin-base-w6_8xb256_in1k.py',
}


def our_model(config: str, eps=None):
    """A pre-training model of ours with every weight moved off its init
    (LayerNorms start at 1 and 0, which would hide a swapped norm)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    if eps is not None:
        cfg.model.backbone.norm_cfg = dict(type='LN', eps=eps)
    cfg.model.backbone.pop('init_cfg', None)  # a fine-tune's checkpoint
    return cfg, perturbed(cfg)


def perturbed(cfg: Config):
    """The config's model, in eval mode, every weight moved off its init
    by seeded noise."""
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.init_weights()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=generator))
    return model.eval()


def saved(tmp_path, cfg, model, name='ours.pth', prefix=''):
    """The model as our training saves it (its config in the meta)."""
    state = {prefix + k: v for k, v in model.state_dict().items()}
    path = tmp_path / name
    torch.save(dict(meta=dict(cfg=cfg.pretty_text), state_dict=state), path)
    return str(path)


def backbone_and_neck(model):
    return {k: v for k, v in model.state_dict().items()
            if k.startswith(('backbone.', 'neck.'))}


@pytest.mark.parametrize('arch', sorted(PRETRAINING))
def test_ours_to_hugging_face_and_back_changes_nothing(arch):
    _, model = our_model(PRETRAINING[arch])
    ours = backbone_and_neck(model)
    family = arch.split('-')[0]
    if family == 'vit':
        hf = to_hugging_face(ours, 'vit', num_layers=12)
    else:
        depths = [len(stage.blocks) for stage in model.backbone.stages]
        hf = to_hugging_face(ours, 'swin', depths=depths)
    back, meta = convert(hf)
    assert meta['arch'] == arch
    assert sorted(back) == sorted(ours)
    for key, value in ours.items():
        assert torch.equal(back[key], value), key


@pytest.mark.parametrize('family', ['vit', 'swin'])
def test_hugging_face_to_ours_and_back_changes_nothing(family):
    torch.manual_seed(0)
    if family == 'vit':
        hf = transformers.ViTForMaskedImageModeling(transformers.ViTConfig(
            hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
            intermediate_size=768, image_size=192, encoder_stride=16))
        extra = {}
    else:
        hf = transformers.SwinForMaskedImageModeling(transformers.SwinConfig(
            image_size=192, embed_dim=96, depths=[2, 2, 6, 2],
            num_heads=[3, 6, 12, 24], window_size=6, encoder_stride=32))
        extra = dict(depths=[2, 2, 6, 2])
    theirs = hf.state_dict()
    ours, _ = convert(theirs)
    back = to_hugging_face(ours, family, num_layers=12, **extra)
    # Swin's relative position indices are buffers transformers builds.
    expected = {k: v for k, v in theirs.items()
                if not k.endswith('relative_position_index')}
    assert sorted(back) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(back[key], value), key


@pytest.mark.parametrize('arch', ['vit-tiny', 'swin-tiny'])
def test_transformers_computes_what_we_do(tmp_path, arch):
    """The exported folder loads with no key missing or unexpected, and
    transformers' reconstruction of a masked image (and the ViT's hidden
    states) equal ours."""
    vit = arch.startswith('vit')
    cfg, model = our_model(PRETRAINING[arch], eps=1e-6 if vit else None)
    out = tmp_path / 'hf'
    done = export_to_hugging_face(saved(tmp_path, cfg, model), str(out))
    hf_class = getattr(transformers, done['hf_class'])
    hf, info = hf_class.from_pretrained(out, output_loading_info=True)
    assert all(not v for v in info.values()), info
    hf.eval()
    grid = 12 if arch.startswith('vit') else 48
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 192, 192, generator=generator)
    mask = (torch.rand(2, grid, grid, generator=generator) < 0.6).float()
    outputs = []
    if arch.startswith('vit'):
        for block in model.backbone.layers:
            block.register_forward_hook(
                lambda _m, _i, out: outputs.append(out))
    with torch.no_grad():
        ours = model.neck(model.backbone(images, mask)[0])
        theirs = hf(images, bool_masked_pos=mask.flatten(1).bool(),
                    output_hidden_states=True)
    scale = ours.abs().max()
    assert float((ours - theirs.reconstruction).abs().max() / scale) < 1e-5
    for ours_hidden, hf_hidden in zip(outputs, theirs.hidden_states[1:]):
        assert float((ours_hidden - hf_hidden).abs().max() /
                     ours_hidden.abs().max()) < 1e-5
    assert hf.config.layer_norm_eps == (1e-6 if vit else 1e-5)


MAE_FAMILY = ['mae_vit-base_8xb256_in1k.py', 'kamae_vit-base_8xb256_in1k.py',
              'pixmim_vit-base_8xb256_in1k.py',
              'kapixmim_vit-base_8xb256_in1k.py']


def small_mae(config: str, eps=1e-6):
    """An MAE-family model of ours with a ViT-T encoder and a 2-block
    decoder, weights moved off their init, and its config."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    cfg.model.backbone.arch = 'deit-tiny'
    cfg.model.backbone.norm_cfg = dict(type='LN', eps=eps)
    cfg.model.neck.update(embed_dim=192, decoder_embed_dim=32,
                          decoder_depth=2, decoder_num_heads=2,
                          norm_cfg=dict(type='LN', eps=eps))
    return cfg, perturbed(cfg)


@pytest.mark.parametrize('config', MAE_FAMILY)
def test_mae_family_round_trips_both_ways(config):
    _, model = small_mae(config)
    ours = backbone_and_neck(model)
    hf = to_hugging_face(ours, 'mae', num_layers=12, decoder_layers=2)
    back, meta = convert(hf)
    assert meta == dict(arch='mae-vit-tiny', family='mae',
                        hf_layer_norm_eps=1e-12, dropped_keys=[])
    assert sorted(back) == sorted(ours)
    for key, value in ours.items():
        assert torch.equal(back[key], value), key
    again = to_hugging_face(back, 'mae', num_layers=12, decoder_layers=2)
    assert sorted(again) == sorted(hf)
    for key, value in hf.items():
        assert torch.equal(again[key], value), key


@pytest.mark.parametrize('config', [MAE_FAMILY[0], MAE_FAMILY[3]])
def test_transformers_mae_computes_what_we_do(tmp_path, monkeypatch,
                                              config):
    """ViTMAEForPreTraining from the exported folder, given the noise our
    MAEViT draws, masks the same patches and predicts the same pixels."""
    cfg, model = small_mae(config)
    out = tmp_path / 'hf'
    done = export_to_hugging_face(saved(tmp_path, cfg, model), str(out))
    assert done['hf_class'] == 'ViTMAEForPreTraining'
    hf, info = transformers.ViTMAEForPreTraining.from_pretrained(
        out, output_loading_info=True)
    assert all(not v for v in info.values()), info
    hf.eval()
    assert hf.config.layer_norm_eps == 1e-6
    assert hf.config.norm_pix_loss == model.head.norm_pix
    assert hf.config.mask_ratio == 0.75
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(2, 3, 192, 192, generator=generator)
    noise = torch.rand(2, 144, generator=generator)
    hidden = []
    for block in model.backbone.layers:
        block.register_forward_hook(lambda _m, _i, out: hidden.append(out))
    with torch.no_grad():
        with monkeypatch.context() as patched:
            # MAEViT draws its noise with torch.rand(N, L).
            patched.setattr(torch, 'rand', lambda *args, **kwargs: noise)
            latent, mask, ids_restore = model.backbone(images)
        ours = model.neck(latent, ids_restore)
        theirs = hf(images, noise=noise, output_hidden_states=True)
    assert torch.equal(mask, theirs.mask)
    assert float((ours - theirs.logits).abs().max() /
                 ours.abs().max()) < 1e-5
    for ours_hidden, hf_hidden in zip(hidden, theirs.hidden_states[1:]):
        assert float((ours_hidden - hf_hidden).abs().max() /
                     ours_hidden.abs().max()) < 1e-5


def test_the_tool_writes_a_folder_and_the_converter_reads_it_back(
        tmp_path, kamim_checkpoint):
    """The demo's KAMIM (its config from the checkpoint), written by the
    command-line tool; the released-checkpoint converter reads the folder,
    its safetensors file and a .pth alike, with the folder's epsilon."""
    out = tmp_path / 'hf'
    done = subprocess.run(
        [sys.executable, TOOL, kamim_checkpoint, str(out),
         '--image-processor'], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'ViTForMaskedImageModeling.from_pretrained' in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        'config.json', 'model.safetensors', 'preprocessor_config.json']
    state = torch.load(kamim_checkpoint, weights_only=True)['state_dict']
    ours = {k: v for k, v in state.items()
            if k.startswith(('backbone.', 'neck.'))}
    folder_state, config = read_hf_checkpoint(str(out))
    assert config['image_size'] == 96 and config['layer_norm_eps'] == 1e-6
    safetensors_state, _ = read_hf_checkpoint(str(out /
                                                  'model.safetensors'))
    torch.save(folder_state, tmp_path / 'hf.pth')
    pth_state, _ = read_hf_checkpoint(str(tmp_path / 'hf.pth'))
    for source in (folder_state, safetensors_state, pth_state):
        # The demo ViT's 6 blocks of 128 dims: no released architecture,
        # so the mapping is called with its depth.
        from mmkamim.utils.hf_simmim import Source, convert_vit
        back = convert_vit(Source(source), dict(num_layers=6))
        assert sorted(back) == sorted(ours)
        for key, value in ours.items():
            assert torch.equal(back[key], value), key
    converter = osp.join(REPO_ROOT, 'tools', 'model_converters',
                         'hf_simmim_to_mmkamim.py')
    # A released-size ViT through the folder: its eps comes from config.json.
    cfg, model = our_model(PRETRAINING['vit-tiny'], eps=1e-12)
    export_to_hugging_face(saved(tmp_path, cfg, model), str(tmp_path / 'v'))
    done = subprocess.run(
        [sys.executable, converter, str(tmp_path / 'v'),
         str(tmp_path / 'back.pth')], capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    back = torch.load(tmp_path / 'back.pth', weights_only=True)
    assert back['meta']['hf_layer_norm_eps'] == 1e-12
    for key, value in backbone_and_neck(model).items():
        assert torch.equal(back['state_dict'][key], value), key


@pytest.mark.parametrize('prefix', ['module.', 'module._orig_mod.'])
def test_ddp_and_compiled_checkpoints_export_alike(tmp_path, prefix):
    cfg, model = our_model(PRETRAINING['vit-tiny'])
    path = saved(tmp_path, cfg, model, prefix=prefix)
    export_to_hugging_face(path, str(tmp_path / 'hf'))
    state, _ = read_hf_checkpoint(str(tmp_path / 'hf'))
    assert torch.equal(state['vit.embeddings.cls_token'],
                       model.backbone.cls_token)


def one_line(*args):
    done = subprocess.run([sys.executable, TOOL, *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and 'Traceback' not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_what_cannot_be_exported_gets_one_line_and_writes_nothing(
        tmp_path):
    out = tmp_path / 'out'
    cases = []
    for config, reason in [
        ('benchmarks/vit-tiny-p16_8xb256-linear-coslr-100e_in1k.py',
         'a ViT probe reads a block before the final LayerNorm'),
        ('benchmarks/swin-tiny-w6_8xb256-linear-coslr-100e_in1k.py',
         "a Swin probe reads the last stage before Swin's final LayerNorm"),
        ('benchmarks/vit-tiny-p16_8xb256-linear-ln-coslr-100e_in1k.py',
         'a -ln probe normalises the tokens with LayerNormNeck'),
        ('benchmarks/vit-tiny-p16_8xb256-finetune-coslr-100e_in1k.py',
         'our ViT fine-tune pools the patch tokens, where '
         'ViTForImageClassification reads the class token'),
    ]:
        cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
        path = tmp_path / f'{len(cases)}.pth'
        torch.save(dict(meta=dict(cfg=cfg.pretty_text), state_dict={}),
                   path)
        cases.append((path, reason))
    for number, (path, reason) in enumerate(cases):
        # The first as a process: exit code 1, no traceback.
        line = (one_line(path, out) if number == 0 else
                tool_error_line(TOOL, path, out))
        assert line.startswith('error: no Hugging Face form: ') and \
            reason in line, line
    # An incomplete checkpoint names what is missing.
    cfg, model = our_model(PRETRAINING['vit-tiny'])
    state = dict(model.state_dict())
    del state['backbone.layers.3.attn.qkv.weight']
    torch.save(dict(meta=dict(cfg=cfg.pretty_text), state_dict=state),
               tmp_path / 'partial.pth')
    line = tool_error_line(TOOL, tmp_path / 'partial.pth', out)
    assert "1 tensors of the model are missing: " \
        "['backbone.layers.3.attn.qkv.weight']" in line
    # A code-running pickle is not even unpickled.
    torch.save({'state_dict': print}, tmp_path / 'code.pth')
    assert 'holds Python objects that run code' in tool_error_line(
        TOOL, tmp_path / 'code.pth', out)
    assert not out.exists()
    # A folder that is not empty needs --force.
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    good = saved(tmp_path, cfg, model)
    assert tool_error_line(TOOL, good, out) == (
        f'error: {out} is not empty: choose an empty folder, or pass '
        '--force to write over it')
    assert sorted(p.name for p in out.iterdir()) == ['keep.txt']
    export_to_hugging_face(good, str(out), force=True)
    with pytest.raises(ConversionError, match='stores no config'):
        torch.save(dict(state_dict=model.state_dict()), tmp_path / 'bare.pth')
        export_to_hugging_face(str(tmp_path / 'bare.pth'),
                               str(tmp_path / 'bare'))


def test_a_safetensors_file_converts_like_the_pth(tmp_path):
    torch.manual_seed(0)
    hf = transformers.ViTForMaskedImageModeling(transformers.ViTConfig(
        hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
        intermediate_size=768, image_size=192, encoder_stride=16))
    save_file({k: v.contiguous() for k, v in hf.state_dict().items()},
              tmp_path / 'model.safetensors')
    state, config = read_hf_checkpoint(str(tmp_path / 'model.safetensors'))
    assert config is None
    ours, meta = convert(state)
    expected, _ = convert(hf.state_dict())
    assert meta['arch'] == 'vit-tiny'
    for key, value in expected.items():
        assert torch.equal(ours[key], value), key


def test_a_converted_mae_gives_its_epsilon_to_encoder_and_decoder(tmp_path):
    from mmkamim.utils.checkpoint_files import apply_checkpoint_norm_eps
    _, model = small_mae(MAE_FAMILY[2])
    hf = to_hugging_face(backbone_and_neck(model), 'mae', num_layers=12,
                         decoder_layers=2)
    state, meta = convert(hf)
    torch.save(dict(meta=meta, state_dict=state), tmp_path / 'mae.pth')
    cfg = Config.fromfile(osp.join(CONFIG_DIR, MAE_FAMILY[2]))
    assert apply_checkpoint_norm_eps(cfg, str(tmp_path / 'mae.pth')) == 1e-12
    assert cfg.model.backbone.norm_cfg == dict(type='LN', eps=1e-12)
    assert cfg.model.neck.norm_cfg == dict(type='LN', eps=1e-12)
    init_default_scope('mmpretrain')
    built = MODELS.build(cfg.model)
    assert {m.eps for m in built.modules()
            if isinstance(m, torch.nn.LayerNorm)} == {1e-12}


def test_a_swin_fine_tune_exports_as_swin_for_image_classification(
        tmp_path):
    cfg, model = our_model(
        'benchmarks/swin-tiny-w6_8xb256-finetune-coslr-100e_in1k.py')
    out = tmp_path / 'hf'
    done = export_to_hugging_face(saved(tmp_path, cfg, model), str(out))
    assert done['hf_class'] == 'SwinForImageClassification'
    hf, info = transformers.SwinForImageClassification.from_pretrained(
        out, output_loading_info=True)
    assert all(not v for v in info.values()), info
    hf.eval()
    assert hf.config.num_labels == 1000
    images = torch.randn(2, 3, 192, 192,
                         generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(images, mode='tensor')
        theirs = hf(images).logits
    assert float((ours - theirs).abs().max() / ours.abs().max()) < 1e-5
