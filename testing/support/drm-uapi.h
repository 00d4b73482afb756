/*
 * The few DRM uapi definitions the tests and the benchmark need to make a
 * vgem dumb buffer and export it as a dma-buf (include/uapi/drm/drm.h and
 * drm_mode.h). Declared here so that no libdrm or kernel-header package is
 * needed to build.
 */
#ifndef XGT_DRM_UAPI_H
#define XGT_DRM_UAPI_H

#include <stdint.h>
#include <sys/ioctl.h>

struct t_drm_mode_create_dumb { uint32_t height, width, bpp, flags, handle, pitch; uint64_t size; };
struct t_drm_mode_map_dumb { uint32_t handle, pad; uint64_t offset; };
struct t_drm_mode_destroy_dumb { uint32_t handle; };
struct t_drm_prime_handle { uint32_t handle, flags; int32_t fd; };
#define T_DRM_IOCTL_MODE_CREATE_DUMB _IOWR('d', 0xB2, struct t_drm_mode_create_dumb)
#define T_DRM_IOCTL_MODE_MAP_DUMB _IOWR('d', 0xB3, struct t_drm_mode_map_dumb)
#define T_DRM_IOCTL_MODE_DESTROY_DUMB _IOWR('d', 0xB4, struct t_drm_mode_destroy_dumb)
#define T_DRM_IOCTL_PRIME_HANDLE_TO_FD _IOWR('d', 0x2d, struct t_drm_prime_handle)

#endif
