# guest/build.mk — what guest/ builds (see the top Makefile for the variables).

# tiny-init: PID 1 of build/guest/tiny-initrd.cpio, for bare boot tests and benchmarks
ARM64_PROGRAMS += tiny-init
tiny-init_SRCS := guest/tiny-init/init.c
