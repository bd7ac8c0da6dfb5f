# The ESP32 port's own frozen modules, and uwebsocket's Python part.
include("$(PORT_DIR)/boards/manifest.py")
include("../../micropython_module/manifest.py")
