# Frozen into the emulated boards, which have no filesystem: the frame
# builder the in-memory tests (python_tests/mp) import.
module("wsframe.py", base_path="../../python_tests/mp")
