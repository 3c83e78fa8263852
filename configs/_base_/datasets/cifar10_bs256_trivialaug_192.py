# CIFAR-10 with the evaluation recipe of imagenet_bs256_trivialaug_192.py: the
# 32 px images are resized to 192 px, ImageNet normalisation, as in the
# released code. MMPretrain's CIFAR10 reads the python version of the data
# set, data/cifar10/cifar-10-batches-py/; nothing is downloaded.
_base_ = ['./imagenet_bs256_trivialaug_192.py']

dataset_type = 'CIFAR10'
data_root = 'data/cifar10/'
num_classes = 10
img_size = 192

data_preprocessor = dict(num_classes=num_classes)

# MMPretrain's CIFAR datasets give RGB arrays: no file loading, no swap.
train_pipeline = [
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='NumpyToPIL', to_rgb=False),
    dict(type='torchvision/TrivialAugmentWide', num_magnitude_bins=31),
    dict(type='torchvision/PILToTensor'),
    dict(
        type='torchvision/RandomErasing',
        p=0.5,
        scale=(0.02, 0.33),
        ratio=(0.3, 3.3),
        value=0),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='NumpyToPIL', to_rgb=False),
    dict(type='torchvision/PILToTensor'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train',
        download=False,
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='test',
        download=False,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
