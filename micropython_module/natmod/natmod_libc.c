// The C library functions the natmod's code calls: the C compiler emits
// memcpy/memset for struct copies and clears, and the Rust core calls
// memcpy, memmove, memset, memcmp and bcmp (on ARM mostly through the ARM
// EABI's __aeabi_mem* helpers, given below). A native module links no C
// library: copies and fills go to the firmware's own through mp_fun_table,
// comparisons are done here.

#include "py/dynruntime.h"

void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *p = a;
    const unsigned char *q = b;
    for (; n > 0; --n, ++p, ++q) {
        if (*p != *q) {
            return *p - *q;
        }
    }
    return 0;
}

// Only equality matters to bcmp's callers.
int bcmp(const void *a, const void *b, size_t n) {
    return memcmp(a, b, n);
}

#if defined(__arm__)
// The ARM EABI's memory helpers (RTABI §4.3.4), which LLVM lowers the Rust
// core's copies and fills to. The firmware's build gives them through
// src/aeabi.rs; the natmod build leaves that out (--cfg uws_natmod): its
// literal pool is an absolute relocation in .text, which mpy_ld refuses.
// Each calls the function above (a pc-relative branch, no table load of
// its own). The 4 and 8 variants promise aligned arguments, which the
// firmware's memmove and memset do not need: they are the same functions.

void __aeabi_memcpy(void *dest, const void *src, size_t n) {
    memcpy(dest, src, n);
}
void __aeabi_memcpy4(void *dest, const void *src, size_t n) __attribute__((alias("__aeabi_memcpy")));
void __aeabi_memcpy8(void *dest, const void *src, size_t n) __attribute__((alias("__aeabi_memcpy")));

void __aeabi_memmove(void *dest, const void *src, size_t n) {
    memmove(dest, src, n);
}
void __aeabi_memmove4(void *dest, const void *src, size_t n) __attribute__((alias("__aeabi_memmove")));
void __aeabi_memmove8(void *dest, const void *src, size_t n) __attribute__((alias("__aeabi_memmove")));

// The fill value comes after the length, unlike memset's.
void __aeabi_memset(void *dest, size_t n, int c) {
    memset(dest, c, n);
}
void __aeabi_memset4(void *dest, size_t n, int c) __attribute__((alias("__aeabi_memset")));
void __aeabi_memset8(void *dest, size_t n, int c) __attribute__((alias("__aeabi_memset")));

void __aeabi_memclr(void *dest, size_t n) {
    memset(dest, 0, n);
}
void __aeabi_memclr4(void *dest, size_t n) __attribute__((alias("__aeabi_memclr")));
void __aeabi_memclr8(void *dest, size_t n) __attribute__((alias("__aeabi_memclr")));
#endif
