/* tests/fuzz/fuzz_loader.c — libFuzzer target for boot/loader.c: any byte string as a kernel
 * file (Image, Image.gz or raw). A load must either be refused with a reason or put the kernel
 * entirely inside guest RAM; nothing may read or write outside (ASan watches). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/layout.h"
#include "boot/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_mem mem;
    if (mem.hva == NULL && guest_mem_map(&mem, DRAM_BASE, 8ULL << 20) != 0)
        abort();
    struct kernel_info ki;
    char err[256] = "";
    if (boot_load_kernel_buffer(&mem, data, size, &ki, err, sizeof err) == 0) {
        if (!guest_mem_contains(&mem, ki.load_gpa, ki.file_bytes) || ki.reserved_end > DRAM_BASE + mem.size ||
            ki.reserved_end < ki.load_gpa + ki.file_bytes)
            abort();
        uint64_t initrd = boot_initrd_gpa(&ki);
        if (initrd < ki.reserved_end)
            abort();
    } else if (err[0] == '\0' || strchr(err, '\n') != NULL) {
        abort(); /* every refusal carries a one-line reason */
    }
    return 0;
}
