# Places365-Standard with the recipe of inat2021_bs256_trivialaug_192.py,
# read by MMPretrain's CustomDataset (MMPretrain has no class for it).
# Layout: data/places365/{train,val}/<category>/<image>.jpg, one folder per
# category (365 categories).
_base_ = ['./inat2021_bs256_trivialaug_192.py']

data_preprocessor = dict(num_classes=365)

train_dataloader = dict(dataset=dict(data_root='data/places365/'))
val_dataloader = dict(dataset=dict(data_root='data/places365/'))
test_dataloader = val_dataloader
