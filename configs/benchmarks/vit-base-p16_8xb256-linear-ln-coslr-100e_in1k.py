# vit-base-p16_8xb256-linear-coslr-100e_in1k.py with a LayerNorm before the
# linear layer (KAMIM paper, Table 5): the released LayerNorm probe's
# LayerNorm([C, N]) over the 8th block's 768 x 144 tokens, then average
# pooling. For LayerNorm(C) after the pooling instead, add
#   --cfg-options model.neck.mode=channels
_base_ = ['./vit-base-p16_8xb256-linear-coslr-100e_in1k.py']

model = dict(
    neck=dict(
        _delete_=True, type='LayerNormNeck', in_channels=768,
        num_tokens=144))
