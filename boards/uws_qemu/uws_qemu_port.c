// What uwebsocket needs from a port that MicroPython's qemu port lacks.
#include <string.h>

#include "py/mphal.h"
#include "py/runtime.h"
#include "py/unicode.h"

// The port links no C library (only shared/libc/string0.c), and the module
// compares URL schemes with strncasecmp.
int strncasecmp(const char *a, const char *b, size_t n) {
    for (; n > 0; --n, ++a, ++b) {
        int d = (int)unichar_tolower((unsigned char)*a) - (int)unichar_tolower((unsigned char)*b);
        if (d != 0 || *a == '\0') {
            return d;
        }
    }
    return 0;
}

// A millisecond clock, which the port has none of: the module's close and
// write timeouts count in mp_hal_ticks_ms(). Read from a free-running
// counter each emulated machine has, so no interrupt handler is needed.

#if defined(QEMU_SOC_MPS2)
// MPS2 FPGA I/O block: CLK100HZ counts at 100 Hz from reset.
#define UWS_MPS2_CLK100HZ (*(volatile uint32_t *)0x40028014)

mp_uint_t mp_hal_ticks_ms(void) {
    return UWS_MPS2_CLK100HZ * 10;
}
#elif defined(QEMU_SOC_VIRT)
// RISC-V virt machine: the CLINT's mtime counts at 10 MHz.
#define UWS_VIRT_MTIME_LO (*(volatile uint32_t *)0x0200bff8)
#define UWS_VIRT_MTIME_HI (*(volatile uint32_t *)0x0200bffc)

mp_uint_t mp_hal_ticks_ms(void) {
    uint32_t hi, lo;
    do {
        hi = UWS_VIRT_MTIME_HI;
        lo = UWS_VIRT_MTIME_LO;
    } while (hi != UWS_VIRT_MTIME_HI);
    return (mp_uint_t)((((uint64_t)hi << 32) | lo) / 10000);
}
#else
#error "uws_qemu_port.c: no clock known for this qemu board"
#endif

void mp_hal_delay_ms(mp_uint_t ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    while (mp_hal_ticks_ms() - start < ms) {
        mp_handle_pending(true);
    }
}
