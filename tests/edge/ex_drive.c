/* ex_drive.c: runs one exported model (mlship export-c) on the rows of ex_rows.h and prints each
 * output as float bits, the same program on the host and bare on a Cortex-M4F (QEMU
 * mps2-an386, built with -DEX_M4: there it also counts one inference's ticks with SysTick and
 * measures its stack: the 8 KB below the stack pointer are painted before the call, and the
 * deepest word the call changed is its stack use).
 * Built by tests/edge/test_export.sh with -DEX_HEADER="name.h" -DEX_PREDICT=name_predict
 * -DEX_IN=... -DEX_OUT=...; ex_rows.h (from ex_tool rows) defines EX_ROWS and ex_rows. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include EX_HEADER
#include "ex_rows.h"

#ifdef EX_M4
#define SYST(o) (*(volatile uint32_t *)(0xE000E010u + (o)))
#define PAINT 2048u /* words */

#define SKIP 16u  /* words just below sp: paint()'s own frame */

/* sp is main's stack pointer; no interrupt is enabled, so nothing else writes below it */
static void paint(volatile uint32_t *sp)
{
    for (uint32_t i = SKIP; i <= PAINT; i++) sp[-(int32_t)i] = 0x5AA5C33Cu;
}

/* bytes from sp down to the deepest word changed (at least SKIP words) */
static unsigned long painted_used(volatile uint32_t *sp)
{
    uint32_t i = PAINT;
    while (i > SKIP && sp[-(int32_t)i] == 0x5AA5C33Cu) i--;
    return 4ul * i;
}
#endif

int main(void)
{
    static float out[EX_OUT];
    for (int r = 0; r < EX_ROWS; r++) {
#ifdef EX_M4
        volatile uint32_t *sp;
        __asm volatile("mov %0, sp" : "=r"(sp));
        if (r == 0) paint(sp);
        SYST(4) = 0xFFFFFF, SYST(8) = 0, SYST(0) = 5; /* reload, clear, enable on the core clock */
        uint32_t t0 = SYST(8);
#endif
        int rc = EX_PREDICT(ex_rows[r], out);
#ifdef EX_M4
        uint32_t t1 = SYST(8);
        if (r == 0) printf("ticks %lu\nstack %lu\n", (unsigned long)((t0 - t1) & 0xFFFFFF), painted_used(sp));
#endif
        printf("row %d rc %d:", r, rc);
        for (int k = 0; k < EX_OUT; k++) {
            uint32_t b;
            memcpy(&b, &out[k], sizeof b);
            printf(" %08lx", (unsigned long)b);
        }
        printf("\n");
    }
    return 0;
}
