"""ctcbias: teach a CTC speech recognizer new words at inference time."""

__version__ = "0.1.0"
__all__ = ["Recognizer", "Result", "Word", "AudioError"]


def __getattr__(name):  # lazy: `import ctcbias` stays light for the CLI's --help
    if name in ("Recognizer", "Result", "Word"):
        from .inference import recognizer

        return getattr(recognizer, name)
    if name == "AudioError":
        from .audio import AudioError

        return AudioError
    raise AttributeError(name)
