"""What several test folders share, importable as ``tests.support.*`` (the tests are packages):
a fake clock, free and closed loopback ports, polling with a deadline (fixtures for them in
tests/conftest.py), and the headless-Chromium driver of the HTML report tests."""
