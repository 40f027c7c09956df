/* main.c: the gesture firmware's inference loop, reduced to what the example needs: each test
 * window of windows.h (on a real watch: the features of the last second of accelerometer
 * samples) is classified by the exported model and printed (semihosting on QEMU, a UART on a
 * board). gesture.h and gesture.c are written by `mlship export-c model.onnx --name gesture`. */
#include <stdio.h>

#include "gesture.h"
#include "windows.h"

static const char *const names[GESTURE_OUTPUT_SIZE] = {"idle", "shake", "tap", "circle"};

int main(void)
{
    float p[GESTURE_OUTPUT_SIZE];
    for (int w = 0; w < N_WINDOWS; w++) {
        if (gesture_predict(windows[w], p) != 0) {
            printf("window %d: a NaN in the features\n", w);
            return 1;
        }
        int best = 0;
        for (int k = 1; k < GESTURE_OUTPUT_SIZE; k++)
            if (p[k] > p[best]) best = k;
        printf("window %d: %-6s", w, names[best]);
        for (int k = 0; k < GESTURE_OUTPUT_SIZE; k++) printf(" %.9g", (double)p[k]);
        printf("\n");
    }
    return 0;
}
