# tools/build.mk — what tools/ builds (see the top Makefile for the variables).

# boottime: times a command to its output markers and its exit (benchmarks, in the dev host)
ARM64_PROGRAMS += boottime
boottime_SRCS := tools/bench/boottime.c
