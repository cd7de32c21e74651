/* devices/platform_device_list.h — the registry of platform device models: one line per device.
 *
 * platform_devices_create walks this list in order and creates every entry (they are not
 * optional), each at its own MMIO window. To add a platform device, write one file that defines
 * `const struct platform_device_type NAME` (see platform_device_type.h), give it an address in
 * boot/layout.h and a node in boot/devtree.c, and add one line here.
 */
PLATFORM_DEVICE(uart_8250_platform)
PLATFORM_DEVICE(rtc_pl031_platform)
PLATFORM_DEVICE(boot_marker_platform)
