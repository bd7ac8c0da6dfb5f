# Several uwebsocket_asyncio clients in one event loop, each echoing through
# the server at URL at the same time; prints one line per client and
# "done" when all are through.
#
#   micropython asyncio_client.py URL CLIENTS MESSAGES
import asyncio
import sys

import uwebsocket_asyncio as wsa


async def one(url, n, messages):
    ws = await wsa.connect(url, timeout=10)
    try:
        for i in range(messages):
            # Text and binary in turn, growing past a socket buffer's worth.
            data = ("client %d message %d " % (n, i)) * (i * 50 + 1)
            if i % 2:
                data = data.encode()
            await ws.send(data)
            if await ws.recv() != data:
                raise AssertionError("client %d: echo %d differs" % (n, i))
        await ws.close(1000, "bye")
    finally:
        print("client", n, "closed", ws.close_code, ws.close_reason)


async def main(url, clients, messages):
    await asyncio.gather(*(one(url, n, messages) for n in range(clients)))
    print("done")


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
