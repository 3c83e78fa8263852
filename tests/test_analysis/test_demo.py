import json
import os.path as osp

import pytest

from mmkamim.analysis.demo import run_demo


@pytest.mark.slow  # three methods pre-trained and probed, about 80 s
def test_demo_runs_end_to_end_in_reduced_mode(tmp_path):
    lines = []
    results = run_demo(
        work_dir=str(tmp_path),
        pretrain_epochs=2,
        probe_epochs=2,
        train_per_class=3,
        val_per_class=2,
        log=lines.append)
    assert [r['name'] for r in results] == ['SimMIM', 'KAMIM', 'PixMIM']
    for result in results:
        assert 0 <= result['top1'] <= 100 and result['loss']
        assert result['pretrain_seconds'] > 0 and result['probe_seconds'] > 0
        # k-NN of the encoder after each of the 2 epochs (interval 1 here).
        assert result['knn_epoch'] == [1, 2]
        assert result['knn_top1'] == result['knn_curve'][-1]
        assert all(0 <= top1 <= 100 for top1 in result['knn_curve'])
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert [r['name']
            for r in saved['runs']] == ['SimMIM', 'KAMIM', 'PixMIM']
    table = (tmp_path / 'results.md').read_text()
    assert '| k-NN top-1 (%) |' in table and table.count('|') > 10
    assert osp.getsize(tmp_path / 'comparison.png') > 10_000
    # The weight maps through the KAMIM pipeline, every method's
    # reconstructions.
    for name in ('keypoint_weights_0.png', 'reconstructions.png'):
        assert osp.getsize(tmp_path / name) > 10_000
    # Progress is reported per stage, and the table is printed at the end.
    assert any('pre-training' in line for line in lines)
    assert any('| KAMIM |' in line for line in lines)


def test_demo_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="'PixelCNN'"):
        run_demo(str(tmp_path), methods=['PixelCNN'])
    with pytest.raises(ValueError, match='pretrain_epochs=1'):
        run_demo(str(tmp_path), pretrain_epochs=1)
