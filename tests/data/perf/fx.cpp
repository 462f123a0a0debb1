// Fixture workload for damon2speedscope's perf script parser tests (tests/data/perf/README.md).
#include <pthread.h>
#include <thread>
#include <cstdlib>
static volatile double sink;
// A symbol whose name is not UTF-8 (bytes ff fe), as a stripped or foreign binary can have.
extern "C" __attribute__((noinline)) void weird_name(int n) __asm__("weird\xff\xfe_sym");
extern "C" __attribute__((noinline)) void weird_name(int n) {
    double s = 0; for (int i = 0; i < n; i++) s += i * 0.25; sink = s;
}
namespace {
struct Worker {
    template <typename T> __attribute__((noinline)) T spin(T n) {
        T s = 0; for (T i = 0; i < n; i++) s += i / 3; return s;
    }
};
struct Functor {
    __attribute__((noinline)) void operator()(int n) const { Worker w; sink = w.spin<long>(n); }
};
__attribute__((noinline)) void run_functor(int reps) {
    Functor f;
    for (int r = 0; r < reps; r++) f(400000);
}
}
__attribute__((noinline)) void thread_main(int reps) {
    pthread_setname_np(pthread_self(), "my worker (1)");
    for (int r = 0; r < reps; r++) { run_functor(1); weird_name(400000); }
}
int main(int argc, char** argv) {
    int reps = argc > 1 ? std::atoi(argv[1]) : 100;
    std::thread t(thread_main, reps);
    run_functor(reps);
    t.join();
}
