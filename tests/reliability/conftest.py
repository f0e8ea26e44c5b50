import pytest

from tests.reliability.procs import Processes


@pytest.fixture
def processes(request):
    """Real processes; ``@pytest.mark.parametrize("processes", [1, 4], indirect=True)`` runs a
    test with workers of that many slots (default: the settings' WORKER_CONCURRENCY)."""
    slots = getattr(request, "param", None)
    procs = Processes(**({"WORKER_CONCURRENCY": str(slots)} if slots else {}))
    yield procs
    procs.stop_all()
