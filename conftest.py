"""Root conftest: every package's tests share the fixtures of ticktide_common.testing."""

pytest_plugins = ["ticktide_common.testing.fixtures"]
