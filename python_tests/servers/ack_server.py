# An asyncio server that, for every message, broadcasts it to every client
# (wsa.broadcast, not waiting) and then answers the sender "ack" (await
# ws.send): both ways of sending on one connection at once. Prints how each
# connection ended.
#
#   micropython ack_server.py HOST PORT
import asyncio
import sys

import uwebsocket_asyncio as wsa

clients = set()


async def handler(ws):
    clients.add(ws)
    try:
        async for message in ws:
            wsa.broadcast(list(clients), message)
            await ws.send("ack")
    except wsa.ConnectionClosed:
        raise
    except Exception as e:  # anything else shows in the log the test reads
        print("error", repr(e))
        raise
    finally:
        clients.discard(ws)
        print("closed", ws.close_code)


async def main(host, port):
    await wsa.serve(handler, host, port, max_size=1 << 20)
    while True:
        await asyncio.sleep(3600)


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
