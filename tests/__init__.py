"""The test suite (a package, so that tests/api is `tests.api`, never the `api` it tests)."""
