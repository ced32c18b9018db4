"""Simulators of the remote side, for development and the tests: never imported by the
production path except through the dev-only services the configuration asks for."""
