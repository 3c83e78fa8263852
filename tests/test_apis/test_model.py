"""MMPretrain's model API knows mmkamim's models, and a released file
becomes a model in one line."""
import subprocess
import sys
import warnings
from types import SimpleNamespace

import mmpretrain
import numpy as np
import pytest
import torch
import transformers
from conftest import REPO_ROOT
from mmpretrain.apis.model import ModelHub

import mmkamim
from mmkamim.apis import model as api
from mmkamim.utils import UsageError

if int(transformers.__version__.split('.')[0]) >= 5:
    pytest.skip('the released files use transformers 4.x key names',
                allow_module_level=True)

TINY = 'kamim_vit-tiny_8xb256_in1k'
TINY_PROBE = 'vit-tiny-p16_kamim-pre_8xb256-linear-coslr-100e_in1k'


@pytest.fixture(scope='module')
def released(tmp_path_factory):
    """A file as the authors released it: a Hugging Face ViT-T's state
    dict (random weights), and the converter tool's output of it."""
    root = tmp_path_factory.mktemp('released')
    torch.manual_seed(0)
    hf = transformers.ViTForMaskedImageModeling(transformers.ViTConfig(
        hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
        intermediate_size=768, image_size=192, encoder_stride=16))
    with torch.no_grad():
        for param in hf.parameters():
            param.add_(0.02 * torch.randn_like(param))
    torch.save(hf.state_dict(), root / 'released.pth')
    subprocess.run(
        [sys.executable, f'{REPO_ROOT}/tools/model_converters/'
         'hf_simmim_to_mmkamim.py', str(root / 'released.pth'),
         str(root / 'converted.pth')], check=True, capture_output=True)
    return root


def test_list_models_names_ours():
    kamim = mmpretrain.list_models('*kamim*')
    assert {TINY, TINY_PROBE,
            'vit-tiny-p16_kamim-pre_8xb256-finetune-coslr-100e_in1k'
            } <= set(kamim)
    assert 'kamae_vit-base_8xb256_in1k' in mmpretrain.list_models('kamae*')
    assert 'simmim_vit-base_8xb256_in1k' in mmpretrain.list_models(
        '*simmim*')
    assert 'pixmim_vit-base_8xb256_in1k' in mmpretrain.list_models(
        '*pixmim*')
    # MMPretrain's own models are there too, registered first.
    assert 'mae_vit-base-p16_8xb512-amp-coslr-300e_in1k' in \
        mmpretrain.list_models('mae*')
    # Pre-training models have no classification task.
    assert TINY not in mmpretrain.list_models(task='Image Classification')
    assert TINY_PROBE in mmpretrain.list_models(task='Image Classification')


def test_registering_again_or_beside_a_clash_keeps_going(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        api.register_models()  # again: nothing changes, nothing warns
    # A fresh process where MMPretrain has a model of one of our names.
    clashing = {k: v for k, v in ModelHub._models_dict.items()
                if k not in api.OUR_MODELS}
    monkeypatch.setattr(ModelHub, '_models_dict', clashing)
    monkeypatch.setattr(api, 'OUR_MODELS', {})
    impostor = SimpleNamespace(name=TINY, filepath='/elsewhere/metafile.yml')
    clashing[TINY] = impostor
    with pytest.warns(UserWarning, match=f'mmkamim model {TINY} is not '
                      r'registered in MMPretrain\'s model API: '
                      '/elsewhere/metafile.yml has a model of that name'):
        api.register_models()
    assert clashing[TINY] is impostor
    assert TINY_PROBE in api.OUR_MODELS


def test_pretrained_true_says_where_to_get_the_file():
    with pytest.raises(UsageError, match=rf'{TINY}: the authors\' weights '
                       rf'\({TINY}\) are on a Google Drive page, which '
                       r'cannot be downloaded by URL. Download https://'
                       r'drive\.google\.com/.* by hand, then pass the file: '
                       rf"get_model\('{TINY}', pretrained=PATH\)"):
        mmkamim.get_model(TINY, pretrained=True)
    with pytest.raises(UsageError, match='has no released weights'):
        mmkamim.get_model('kamae_vit-base_8xb256_in1k', pretrained=True)


def test_a_released_file_in_one_line_equals_converting_then_loading(
        released):
    model = mmkamim.get_model(TINY, pretrained=str(released /
                                                   'released.pth'))
    converted = torch.load(released / 'converted.pth',
                           weights_only=True)['state_dict']
    own = model.state_dict()
    for key, value in converted.items():
        assert torch.equal(own[key], value), key
    # Hugging Face's LayerNorm epsilon, as the converter tells one to pass.
    assert model.backbone.ln1.eps == 1e-12
    # The same file fills a probe's backbone; features come out.
    probe = mmkamim.get_model(TINY_PROBE,
                              pretrained=str(released / 'released.pth'))
    for name, param in probe.backbone.named_parameters():
        assert torch.equal(param, converted[f'backbone.{name}']), name
    extractor = mmpretrain.FeatureExtractor(probe)
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3),
                                              dtype=np.uint8)
    (features, ) = extractor(image)[0]
    assert features.shape == (192, )
    # As by hand: the converter tool's file as the probe's init_cfg, with
    # the epsilon the converter names.
    cfg = ModelHub.get(TINY_PROBE).config
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(released / 'converted.pth'),
        prefix='backbone.')
    cfg.model.backbone.norm_cfg = dict(type='LN', eps=1e-12)
    by_hand = mmpretrain.get_model(cfg)
    by_hand.init_weights()
    (expected, ) = mmpretrain.FeatureExtractor(by_hand.eval())(image)[0]
    assert torch.equal(features, expected)
    # Our own converted checkpoint gives the same weights.
    again = mmkamim.get_model(TINY, pretrained=str(released /
                                                   'converted.pth'))
    assert again.backbone.ln1.eps == 1e-12
    for key, value in converted.items():
        assert torch.equal(again.state_dict()[key], value), key


def test_a_file_of_another_architecture_is_refused_naming_both(released):
    with pytest.raises(UsageError, match=r'released\.pth holds a vit-tiny '
                       r"\(its weights' shapes\), not the vit-small this "
                       'model is'):
        mmkamim.get_model('kamim_vit-small_8xb256_in1k',
                          pretrained=str(released / 'released.pth'))


def test_other_models_go_to_mmpretrain():
    model = mmkamim.get_model('resnet18_8xb32_in1k')
    assert type(model).__name__ == 'ImageClassifier'


def test_ours_are_read_with_mmpretrains_own_whenever_imported():
    """Importing mmkamim parses no metafile; MMPretrain's first look at its
    index reads ours too, also when that look came before the import."""
    script = (
        'import mmpretrain\n'
        'from mmpretrain.apis.model import ModelHub\n'
        'before = len(mmpretrain.list_models())\n'
        'import mmkamim\n'
        'from mmkamim.apis import model\n'
        'assert not model.OUR_MODELS\n'
        f'assert {TINY!r} in mmpretrain.list_models("kamim*")\n'
        'assert len(ModelHub._models_dict) == before + len(model.OUR_MODELS)\n'
        'print("ok")\n')
    done = subprocess.run([sys.executable, '-c', script], capture_output=True,
                          text=True, cwd=REPO_ROOT)
    assert done.stdout.strip() == 'ok', done.stderr
