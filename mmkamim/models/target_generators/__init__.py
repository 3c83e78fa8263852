from .low_freq_target_generator import LowFreqTargetGenerator

__all__ = ['LowFreqTargetGenerator']
