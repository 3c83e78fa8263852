# swin-base-w6_8xb256-linear-coslr-100e_in1k.py with a LayerNorm before the
# linear layer (KAMIM paper, Table 5): the released LayerNorm probe's
# LayerNorm([C, N]) over the last stage's 1024 x 36 tokens, then average
# pooling. For LayerNorm(C) after the pooling instead, add
#   --cfg-options model.neck.mode=channels
_base_ = ['./swin-base-w6_8xb256-linear-coslr-100e_in1k.py']

model = dict(
    neck=dict(
        _delete_=True, type='LayerNormNeck', in_channels=1024,
        num_tokens=36))
