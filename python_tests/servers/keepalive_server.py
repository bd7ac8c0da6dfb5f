# An asyncio echo server (uwebsocket_asyncio.serve) with keepalive: a ping
# after INTERVAL seconds of silence, the connection closed (1011) when no
# pong comes within as long again. Prints how each connection ended.
#
#   micropython keepalive_server.py INTERVAL HOST PORT
import asyncio
import sys

import uwebsocket_asyncio as wsa


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    finally:
        print("closed", ws.close_code)


async def main(interval, host, port):
    await wsa.serve(echo, host, port, ping_interval=interval, ping_timeout=interval)
    while True:
        await asyncio.sleep(3600)


asyncio.run(main(float(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
