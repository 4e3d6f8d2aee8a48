import pytest

from tests.manifests.render import OVERLAYS, objects


@pytest.fixture(params=sorted(OVERLAYS))
def overlay(request) -> str:
    """The name of each overlay in turn."""
    return request.param


@pytest.fixture
def objs(overlay) -> list[dict]:
    """The objects the overlay renders to."""
    return objects(overlay)
