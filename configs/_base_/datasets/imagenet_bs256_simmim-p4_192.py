# The pipeline of imagenet_bs256_simmim-p16_192.py for Swin, whose 4 px
# patches make the mask generator's mask 48 x 48.
_base_ = ['./imagenet_bs256_simmim-p16_192.py']

train_pipeline = _base_.train_pipeline
train_pipeline[4]['model_patch_size'] = 4  # the SimMIMMaskGenerator
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
