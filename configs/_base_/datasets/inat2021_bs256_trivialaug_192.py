# iNaturalist 2021 with the evaluation recipe of
# imagenet_bs256_trivialaug_192.py,
# read by MMPretrain's CustomDataset (MMPretrain has no class for it).
# Layout: data/inat2021/{train,val}/<category>/<image>.jpg (the official
# 2021 tarballs extract to these folders; 10,000 categories).
_base_ = ['./imagenet_bs256_trivialaug_192.py']

dataset_type = 'CustomDataset'
data_root = 'data/inat2021/'
num_classes = 10000

data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='val',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
