import pytest


@pytest.fixture(scope="session")
def rec():
    """The shipped model, loaded once for every test module that needs it."""
    from ctcbias import Recognizer

    return Recognizer.load()
