"""The public Python API is pinned: changing it is a deliberate act."""

import casegraph


def test_public_api_is_pinned():
    assert sorted(casegraph.__all__) == [
        "CasegraphError",
        "Settings",
        "Store",
        "__version__",
        "import_file",
        "load_settings",
        "open_store",
        "read_table",
        "run_all",
    ]
    for name in casegraph.__all__:
        assert hasattr(casegraph, name), name
