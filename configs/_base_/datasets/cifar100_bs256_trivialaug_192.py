# CIFAR-100 with the recipe of cifar10_bs256_trivialaug_192.py. MMPretrain's
# CIFAR100 reads the python version of the data set,
# data/cifar100/cifar-100-python/; nothing is downloaded.
_base_ = ['./cifar10_bs256_trivialaug_192.py']

data_preprocessor = dict(num_classes=100)

train_dataloader = dict(
    dataset=dict(type='CIFAR100', data_root='data/cifar100/'))
val_dataloader = dict(
    dataset=dict(type='CIFAR100', data_root='data/cifar100/'))
test_dataloader = val_dataloader
