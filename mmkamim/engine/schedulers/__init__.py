from .progress_schedule import ProgressSchedule

__all__ = ['ProgressSchedule']
