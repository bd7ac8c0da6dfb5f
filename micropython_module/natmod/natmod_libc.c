// The C library functions the natmod's code calls: the C compiler emits
// memcpy/memset for struct copies and clears, and the Rust core calls
// memcpy, memmove, memset, memcmp and bcmp (on ARM also through the
// __aeabi_mem* helpers of src/aeabi.rs, which tail-call these). A native
// module links no C library: copies and fills go to the firmware's own
// through mp_fun_table, comparisons are done here.

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
