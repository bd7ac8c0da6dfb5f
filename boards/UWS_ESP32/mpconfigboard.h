// uwebsocket on a classic ESP32 module (ESP32-WROOM, 4 MiB flash or more).

#define MICROPY_HW_BOARD_NAME "ESP32 module with uwebsocket"
#define MICROPY_HW_MCU_NAME "ESP32"
