import json

import pytest

from mmkamim.analysis.throughput import (
    training_throughput,
    work_dir_throughput,
)
from mmkamim.utils.errors import UsageError


def logged(step, time, data_time):
    return dict(step=step, loss=1.0, time=time, data_time=data_time)


def test_warm_up_is_left_out_and_every_line_counts_once():
    records = [logged(10, 5.0, 4.0), logged(20, 2.0, 1.0),
               logged(30, 0.5, 0.1), logged(40, 0.3, 0.05),
               dict(step=40, **{'knn/top1': 50.0})]  # not a training line
    found = training_throughput(records, images_per_iter=64, skip_iters=20)
    assert found['records'] == 2
    assert (found['first_iter'], found['last_iter']) == (30, 40)
    assert found['seconds_per_iter'] == pytest.approx(0.4)
    assert found['images_per_s'] == pytest.approx(160)
    assert found['data_wait_share'] == pytest.approx(0.075 / 0.4)


def test_nothing_after_the_warm_up_is_refused_with_the_last_iteration():
    with pytest.raises(UsageError, match='the last logged is 20'):
        training_throughput([logged(10, 1, 0), logged(20, 1, 0)], 8, 20)
    with pytest.raises(UsageError, match='images_per_iter must be >= 1'):
        training_throughput([logged(30, 1, 0)], 0, 20)


def test_batch_size_comes_from_the_dumped_config(tmp_path):
    log = tmp_path / '20261203_000000' / 'vis_data'
    log.mkdir(parents=True)
    log.joinpath('scalars.json').write_text('\n'.join(
        json.dumps(logged(step, 0.25, 0.05)) for step in (10, 20, 30)))
    (tmp_path / 'kamim.py').write_text(
        'train_dataloader = dict(batch_size=16)\n')
    found = work_dir_throughput(str(tmp_path), skip_iters=10, processes=2)
    assert found['images_per_s'] == pytest.approx(2 * 16 / 0.25)
    (tmp_path / 'other.py').write_text('x = 1\n')
    with pytest.raises(UsageError, match='--batch-size'):
        work_dir_throughput(str(tmp_path), skip_iters=10)
    assert work_dir_throughput(str(tmp_path), 10, batch_size=4)[
        'images_per_s'] == pytest.approx(16)
