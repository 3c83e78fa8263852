from .weighted_pixel_reconstruction_loss import WeightedPixelReconstructionLoss

__all__ = ['WeightedPixelReconstructionLoss']
