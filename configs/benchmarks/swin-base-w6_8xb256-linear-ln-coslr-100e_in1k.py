# swin-base-w6_8xb256-linear-coslr-100e_in1k.py with a LayerNorm between the
# average pooling and the
# linear layer (KAMIM paper, Table 5).
_base_ = ['./swin-base-w6_8xb256-linear-coslr-100e_in1k.py']

model = dict(neck=dict(_delete_=True, type='LayerNormNeck', in_channels=1024))
