//! The ARM EABI's memory helpers (RTABI §4.3.4), for bare-metal ARM.
//! LLVM lowers copies and fills to `__aeabi_memcpy`, `__aeabi_memclr` & co.,
//! which the C compiler never calls, so without these `compiler_builtins`
//! supplies its own set plus a word-wise `memcpy` behind them: 1.6 KiB of
//! flash on Cortex-M that does what the C library the firmware already links
//! does. Each helper tail-calls that library's `memcpy`, `memmove` or
//! `memset` (every C environment has them: the compiler itself emits calls
//! to them). Weak, so that a C library's own helpers take precedence.
//! `ldr`/`bx` rather than a branch: it reaches anywhere, also on Thumb-1.

core::arch::global_asm!(
    ".macro uws_aeabi_alias name",
    ".weak \\name",
    ".type \\name, %function",
    "\\name:",
    ".endm",
    // __aeabi_memcpy{,4,8}(dest, src, n): memcpy's arguments.
    ".section .text.uws_aeabi_memcpy,\"ax\",%progbits",
    ".p2align 2",
    "uws_aeabi_alias __aeabi_memcpy",
    "uws_aeabi_alias __aeabi_memcpy4",
    "uws_aeabi_alias __aeabi_memcpy8",
    "ldr r3, =memcpy",
    "bx r3",
    ".ltorg",
    // __aeabi_memmove{,4,8}(dest, src, n): memmove's arguments.
    ".section .text.uws_aeabi_memmove,\"ax\",%progbits",
    ".p2align 2",
    "uws_aeabi_alias __aeabi_memmove",
    "uws_aeabi_alias __aeabi_memmove4",
    "uws_aeabi_alias __aeabi_memmove8",
    "ldr r3, =memmove",
    "bx r3",
    ".ltorg",
    // __aeabi_memset{,4,8}(dest, n, c): memset(dest, c, n).
    ".section .text.uws_aeabi_memset,\"ax\",%progbits",
    ".p2align 2",
    "uws_aeabi_alias __aeabi_memset",
    "uws_aeabi_alias __aeabi_memset4",
    "uws_aeabi_alias __aeabi_memset8",
    "mov r3, r1",
    "mov r1, r2",
    "mov r2, r3",
    "ldr r3, =memset",
    "bx r3",
    ".ltorg",
    // __aeabi_memclr{,4,8}(dest, n): memset(dest, 0, n).
    ".section .text.uws_aeabi_memclr,\"ax\",%progbits",
    ".p2align 2",
    "uws_aeabi_alias __aeabi_memclr",
    "uws_aeabi_alias __aeabi_memclr4",
    "uws_aeabi_alias __aeabi_memclr8",
    "mov r2, r1",
    "movs r1, #0",
    "ldr r3, =memset",
    "bx r3",
    ".ltorg",
);
