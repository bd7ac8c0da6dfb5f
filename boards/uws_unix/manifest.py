# Frozen into the unix test firmware: asyncio, and uwebsocket's asyncio
# helper.
include("$(MPY_DIR)/extmod/asyncio")
include("../../micropython_module/manifest.py")
