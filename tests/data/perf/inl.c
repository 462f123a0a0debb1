#include <stdlib.h>
static volatile double sink;
static inline __attribute__((always_inline)) double leaf_work(int n) {
    double s = 0; for (int i = 0; i < n; i++) s += i * 0.5; return s;
}
static inline __attribute__((always_inline)) double mid_work(int n) { return leaf_work(n) + 1; }
__attribute__((noinline)) double outer(int n) { return mid_work(n); }
int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 300;
    for (int r = 0; r < reps; r++) sink = outer(1000000 + r);
    return 0;
}
