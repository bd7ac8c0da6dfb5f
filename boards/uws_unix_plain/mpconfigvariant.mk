# The settings of the test variant (boards/uws_unix), with this folder's
# manifest: asyncio frozen, uwebsocket's helpers not.
include $(VARIANT_DIR)/../uws_unix/mpconfigvariant.mk
