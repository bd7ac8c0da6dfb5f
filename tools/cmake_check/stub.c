// Stands in for the shim in tools/cmake_check: one call through the
// generated header (the server handshake of RFC 6455 section 1.3, whose
// accept key is known). The core needs nothing from its host.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uwebsocket_core.h"

static const char request[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

int main(void) {
    uint8_t out[512];
    uws_handshake result;
    memset(&result, 0, sizeof(result));
    bool ok = uws_server_handshake((const uint8_t *)request, sizeof(request) - 1, true,
        NULL, 0, NULL, 0, NULL, 0, out, sizeof(out) - 1, &result);
    if (!ok || result.status != 101 || result.response_len >= sizeof(out)) {
        printf("handshake failed: status %u\n", (unsigned)result.status);
        return 1;
    }
    out[result.response_len] = 0;
    if (strstr((const char *)out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") == NULL) {
        printf("wrong answer:\n%s", (const char *)out);
        return 1;
    }
    printf("accept key OK, connection state %u bytes\n", (unsigned)uws_conn_size());
    return 0;
}
