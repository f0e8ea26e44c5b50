import pytest

from tests.reliability.procs import Processes


@pytest.fixture
def processes():
    procs = Processes()
    yield procs
    procs.stop_all()
