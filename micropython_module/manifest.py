# The Python part of uwebsocket, frozen into firmware next to the C module:
# include this file from a board's manifest.
module("uwebsocket_asyncio.py")
module("uwebsocket_transport.py")
