"""Small runnable versions of real training scripts (a package: its file names repeat those of
the adapter folders, e.g. ``test_keras_training.py``)."""
