# The Autobahn TestSuite's client mode (wstest -m fuzzingserver) drives this
# client: fetch the case count, run every case echoing each message back as
# it came (text as text, binary as binary) until the connection closes, then
# ask the fuzzer to write its reports.
#
#   micropython -X heapsize=64M autobahn_client.py URL AGENT
#
# Cases 9.* send messages of up to 16 MiB: max_size leaves room above that,
# and the heap must hold such a message twice (assembled and received).
import gc
import sys

import uwebsocket

MAX_SIZE = 16 * 1024 * 1024 + 1024
# Compression (cases 12.* and 13.*): the client offers to compress with any
# window the server asks for. With the default (2^11, offered as
# client_max_window_bits=11) the suite's cases 13.4 and 13.6, whose server
# answers client_max_window_bits=15 whatever was offered, fail the
# handshake, as RFC 7692 section 7.1.2.2 allows the server no more than
# the offer.
CLIENT_WINDOW_BITS = 15
TIMEOUT = 60  # seconds; a case that stalls fails instead of hanging the run


def case_count(url):
    ws = uwebsocket.connect(url + "/getCaseCount", timeout=TIMEOUT)
    try:
        return int(ws.recv())
    finally:
        ws.close()


def run_case(url, case, agent):
    # The last case's big messages go before this one's arrive: a 16 MiB
    # message needs 16 MiB in one piece, which a heap strewn with the dead
    # objects of 250 cases may not offer until it is collected.
    gc.collect()
    ws = uwebsocket.connect("%s/runCase?case=%d&agent=%s" % (url, case, agent),
                            max_size=MAX_SIZE, timeout=TIMEOUT, client_max_window_bits=CLIENT_WINDOW_BITS)
    try:
        while True:
            ws.send(ws.recv())
    except uwebsocket.ConnectionClosed as e:
        return e.code
    except OSError as e:
        # The fuzzer may drop the TCP connection after failing a case.
        ws.close()
        return "OSError %s" % e.args[0]


def main(url, agent):
    count = case_count(url)
    print("cases:", count)
    for case in range(1, count + 1):
        print("case", case, "->", run_case(url, case, agent))
    ws = uwebsocket.connect("%s/updateReports?agent=%s" % (url, agent), timeout=TIMEOUT)
    try:
        ws.recv()
    except uwebsocket.ConnectionClosed:
        pass
    print("reports updated")


main(sys.argv[1], sys.argv[2])
