# examples/echo_server.py with the message limit the Autobahn TestSuite
# needs: its cases 9.1.6 and 9.2.6 send 16 MiB messages. Run it with a heap
# that holds such a message (micropython -X heapsize=64M).
#
#   micropython -X heapsize=64M autobahn_echo.py HOST PORT
import sys

here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, here + "/../../examples")

from echo_server import serve  # noqa: E402

serve(sys.argv[1], int(sys.argv[2]), max_size=16 << 20)
