/* m4_start.c: the least a test program needs to run bare on QEMU's mps2-an386 (Cortex-M4F), in
 * place of newlib's crt0: a vector table, and a reset handler that clears .bss, turns the FPU
 * on, makes the code region read-only (MPU), opens the semihosting channel that carries printf
 * and exit to the host (newlib's librdimon), and calls main. A fault escalates to a lockup,
 * which QEMU reports by exiting non-zero. Linked with m4.ld by tests/cross/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int main(void);
void initialise_monitor_handles(void);
extern char __bss_start__[], __bss_end__[], __stack[];

#define REG(a) (*(volatile uint32_t *)(a))

void m4_reset(void)
{
    memset(__bss_start__, 0, (size_t)(__bss_end__ - __bss_start__));
    REG(0xE000ED88) |= 0xFu << 20; /* CPACR: coprocessors 10 and 11 (the FPU), full access */
    /* MPU region 0: 0x0, 4 MB (SIZE 21 = 2^22 bytes), read-only (AP 6); other addresses keep
     * the default map (PRIVDEFENA) */
    REG(0xE000ED98) = 0;                                /* RNR */
    REG(0xE000ED9C) = 0x00000000;                       /* RBAR */
    REG(0xE000EDA0) = (6u << 24) | (21u << 1) | 1u;     /* RASR */
    REG(0xE000ED94) = 5;                                /* CTRL: ENABLE | PRIVDEFENA */
    __asm volatile("dsb\n\tisb");
    initialise_monitor_handles();
    exit(main());
}

/* newlib's exit calls these (crti.o's, which a build without crt0 leaves out) */
void _init(void) {}
void _fini(void) {}

static void m4_fault(void) { exit(99); } /* semihosting inside a fault handler: a lockup */

__attribute__((section(".vectors"), used)) static void (*const m4_vectors[16])(void) = {
    (void (*)(void))__stack, m4_reset, m4_fault, m4_fault, m4_fault, m4_fault, m4_fault};
