/* Multi-threaded phase workload for damon2speedscope fixtures.
 * Thread "streamer" sweeps a 384 MiB buffer (phase A), then sleeps.
 * Thread "chaser" does random reads over 192 MiB (phase B), after A.
 * The main thread does light compute (spin_small) throughout, with idle gaps. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static double P;

__attribute__((noinline)) void stream_pass(volatile uint64_t *a, size_t n){ for (size_t i=0;i<n;i+=8) a[i]+=i; }
__attribute__((noinline)) uint64_t chase(uint64_t *a, size_t n, uint64_t x){
    for (int k=0;k<1000000;k++){ x = x*6364136223846793005ULL+1442695040888963407ULL; a[(x>>17)%n] += x; }
    return x;
}
__attribute__((noinline)) double spin_small(int iters){ double s=0; for(int i=0;i<iters;i++) s+=i*0.5; return s; }

static void *streamer(void *arg){
    (void)arg; size_t n=(size_t)384*1024*1024/8; uint64_t *a=malloc(n*8); memset(a,1,n*8);
    usleep((useconds_t)(P*1e6));
    double t=now(); while(now()-t<2*P) stream_pass(a,n);
    usleep((useconds_t)(4*P*1e6));
    return a;
}
static void *chaser(void *arg){
    (void)arg; size_t n=(size_t)192*1024*1024/8; uint64_t *a=malloc(n*8); memset(a,2,n*8);
    usleep((useconds_t)(4*P*1e6));
    uint64_t x=1; double t=now(); while(now()-t<2*P) x=chase(a,n,x);
    usleep((useconds_t)(P*1e6));
    return (void*)(uintptr_t)x;
}
int main(int argc,char**argv){
    P = argc>1?atof(argv[1]):5.0;
    pthread_t a,b;
    pthread_create(&a,0,streamer,0); pthread_setname_np(a,"streamer");
    pthread_create(&b,0,chaser,0); pthread_setname_np(b,"chaser");
    double t=now(), s=0;
    while(now()-t<7*P){ s+=spin_small(200000); usleep(20000); }
    pthread_join(a,0); pthread_join(b,0);
    printf("%f\n", s);
    return 0;
}
