// uwebsocket on an ESP32-C3 module with 4 MiB of flash or more.

#define MICROPY_HW_BOARD_NAME "ESP32C3 module with uwebsocket"
#define MICROPY_HW_MCU_NAME "ESP32C3"

// REPL on the UART too, for modules with a USB-serial chip instead of the
// C3's own USB.
#define MICROPY_HW_ENABLE_UART_REPL (1)
