# ImageNet-1k pre-training data for PixMIM at 192 px: the conservative
# "simple resized crop" (short side to 192, random 192 crop with 4 px reflect
# padding, horizontal flip; torchvision's, on the RGB image).
_base_ = ['./imagenet_bs256_simmim-p16_192.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='NumpyToPIL', to_rgb=True),
    dict(type='torchvision/Resize', size=192),
    dict(
        type='torchvision/RandomCrop',
        size=192,
        padding=4,
        padding_mode='reflect'),
    dict(type='torchvision/RandomHorizontalFlip', p=0.5),
    dict(type='PILToNumpy', to_bgr=True),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
