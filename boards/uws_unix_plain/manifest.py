# Frozen into the unix firmware without uwebsocket (make firmware-plain):
# asyncio only. uwebsocket and its helpers come from the natmod's .mpy
# files on sys.path.
include("$(MPY_DIR)/extmod/asyncio")
