/* tests/unit/test_platform_devices.c — devices/platform_devices.c: every registered platform
 * device is created at its layout address with its interrupt bound, described for the device
 * tree, found by type, and a failure undoes everything with one line. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/mmio_bus.h"
#include "boot/devtree.h"
#include "boot/layout.h"
#include "devices/boot_marker.h"
#include "devices/platform_devices.h"
#include "devices/rtc_pl031.h"
#include "devices/uart_8250.h"
#include "tests/unit/check.h"

static int irqfd_result;
static uint32_t bound_spi;
static int bound_fd = -1;

static int record_irqfd(void *vm, uint32_t spi, int fd)
{
    (void)vm;
    bound_spi = spi;
    bound_fd = fd;
    return irqfd_result;
}

static const struct vm_services services = { .add_irqfd = record_irqfd };
static const struct platform_services platform = { .vm = &services, .console_out_fd = -1, .start_ns = 1 };

static void test_create_describe_find(void)
{
    static struct mmio_bus bus;
    char err[200] = "";
    irqfd_result = 0;
    CHECK_EQ(platform_devices_create(&platform, &bus, err, sizeof err), 0);
    CHECK_EQ(bus.count, 3);
    CHECK_EQ(bound_spi, UART_SPI);
    struct uart_8250 *uart = platform_device_state(&uart_8250_platform);
    CHECK(uart != NULL && uart->irq.fd == bound_fd && uart->irq.spi == UART_SPI);
    CHECK(platform_device_state(&rtc_pl031_platform) != NULL);
    CHECK(platform_device_state(&boot_marker_platform) != NULL);
    uint8_t lsr = 0;
    uint32_t id = 0;
    CHECK(mmio_bus_read(&bus, UART_MMIO_BASE + UART_LSR, &lsr, 1) && (lsr & UART_LSR_THRE));
    CHECK(mmio_bus_read(&bus, RTC_MMIO_BASE + 0xfe0, &id, 4) && id == 0x31); /* PL031 periph id 0 */
    uint8_t zero = 0;
    CHECK(mmio_bus_write(&bus, BOOT_MARKER_BASE, &zero, 1)); /* placed; anything but 123 ignored */
    CHECK_EQ(boot_marker_elapsed_us(platform_device_state(&boot_marker_platform)), -1);

    static struct devtree_machine m;
    platform_devices_describe(&m);
    CHECK(m.has_uart && m.uart.base == UART_MMIO_BASE && m.uart.size == UART_MMIO_SIZE && m.uart.spi == UART_SPI);
    CHECK(m.has_rtc && m.rtc_base == RTC_MMIO_BASE);
    CHECK(m.has_boot_marker && m.boot_marker_base == BOOT_MARKER_BASE);

    /* the same bus again: the windows overlap, one line, nothing left created */
    CHECK(platform_devices_create(&platform, &bus, err, sizeof err) != 0);
    CHECK(strstr(err, "cannot place uart at 0x1000000") != NULL);
    CHECK(platform_device_state(&uart_8250_platform) == NULL);
    platform_devices_destroy();
    platform_devices_destroy(); /* twice is fine */
}

static void test_irqfd_failure(void)
{
    static struct mmio_bus bus;
    char err[200] = "";
    irqfd_result = -EINVAL;
    CHECK(platform_devices_create(&platform, &bus, err, sizeof err) != 0);
    CHECK(strstr(err, "UART interrupt (irqfd)") != NULL);
    CHECK_EQ(bus.count, 0);
    CHECK(bound_fd >= 0 && fcntl(bound_fd, F_GETFD) == -1); /* the eventfd was closed again */
    CHECK(platform_device_state(&uart_8250_platform) == NULL);
    static struct devtree_machine m;
    platform_devices_describe(&m);
    CHECK(!m.has_uart && !m.has_rtc && !m.has_boot_marker);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "every platform device placed, bound, described and found", test_create_describe_find },
        { "a failed interrupt binding fails with one line, nothing left", test_irqfd_failure },
    };
    return run_unit_tests(tests, sizeof tests / sizeof tests[0]);
}
