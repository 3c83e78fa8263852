# Places365-Standard with the evaluation recipe of
# imagenet_bs256_trivialaug_192.py, read from its official file lists by
# mmkamim's Places365 (MMPretrain has no class for it).
# Layout: data/places365/ holding places365_train_standard.txt and
# places365_val.txt (filelist_places365-standard.tar), data_256/ (training
# images, data_256.tar) and val_256/ (validation images, val_256.tar).
_base_ = ['./imagenet_bs256_trivialaug_192.py']

dataset_type = 'Places365'
data_root = 'data/places365/'
num_classes = 365

data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
