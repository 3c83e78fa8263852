# Swin-T (embed 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24)), window 6.
_base_ = ['./simmim_swin-base-w6_8xb256_in1k.py']

model = dict(
    backbone=dict(arch='tiny'), neck=dict(in_channels=96 * 2**3))
