"""ctcbias: teach a CTC speech recognizer new words at inference time."""

__version__ = "0.1.0"
