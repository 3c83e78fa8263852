"""The embedded demo (``python -m mmkamim.demo``): KAMIM, SimMIM and PixMIM
on photos scikit-image ships, nothing downloaded. See ``--help``."""
from mmkamim.demo import main

if __name__ == '__main__':
    main()
