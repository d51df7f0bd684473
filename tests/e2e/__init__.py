"""The development stack (scripts/develop) and the browser end-to-end test (scripts/test --e2e).

Not collected by pytest: no module here is named test_*.py.
"""
