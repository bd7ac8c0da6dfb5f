# A chat server on asyncio: every message a client sends goes to every
# connected client, the sender included.
#
#   micropython examples/chat_server.py [HOST] [PORT]      (default 127.0.0.1 8080)
import asyncio
import sys

import uwebsocket_asyncio as wsa

clients = set()


def broadcast(message):
    # Every client gets it at once; one that stopped reading holds up
    # nobody else, and is dropped.
    for ws in wsa.broadcast(list(clients), message):
        clients.discard(ws)


async def chat(ws):
    clients.add(ws)
    try:
        async for message in ws:
            broadcast(message)
    finally:
        clients.discard(ws)


async def main(host, port):
    await wsa.serve(chat, host, port, ping_interval=20)
    print("chat server on ws://%s:%d/" % (host, port))
    while True:
        await asyncio.sleep(3600)


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8080
    asyncio.run(main(host, port))
