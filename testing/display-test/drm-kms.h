/*
 * The DRM KMS uapi a guest drawing program needs (include/uapi/drm/drm.h and
 * drm_mode.h, Linux 6.1): resources, connector, encoder, CRTC, dumb buffers,
 * ADDFB, PAGE_FLIP and the flip-complete event. Declared here, like
 * testing/c-tests/drm-uapi.h, so that neither libdrm nor kernel headers are needed;
 * every size is checked against the kernel's below.
 */
#ifndef DT_DRM_KMS_H
#define DT_DRM_KMS_H

#include <stdint.h>
#include <sys/ioctl.h>

struct k_mode_card_res {
    uint64_t fb_id_ptr, crtc_id_ptr, connector_id_ptr, encoder_id_ptr;
    uint32_t count_fbs, count_crtcs, count_connectors, count_encoders;
    uint32_t min_width, max_width, min_height, max_height;
};
struct k_mode_modeinfo {
    uint32_t clock;
    uint16_t hdisplay, hsync_start, hsync_end, htotal, hskew;
    uint16_t vdisplay, vsync_start, vsync_end, vtotal, vscan;
    uint32_t vrefresh, flags, type;
    char name[32];
};
struct k_mode_crtc {
    uint64_t set_connectors_ptr;
    uint32_t count_connectors, crtc_id, fb_id, x, y, gamma_size, mode_valid;
    struct k_mode_modeinfo mode;
};
struct k_mode_get_encoder { uint32_t encoder_id, encoder_type, crtc_id, possible_crtcs, possible_clones; };
struct k_mode_get_connector {
    uint64_t encoders_ptr, modes_ptr, props_ptr, prop_values_ptr;
    uint32_t count_modes, count_props, count_encoders;
    uint32_t encoder_id, connector_id, connector_type, connector_type_id;
    uint32_t connection, mm_width, mm_height, subpixel, pad;
};
struct k_mode_fb_cmd { uint32_t fb_id, width, height, pitch, bpp, depth, handle; };
struct k_mode_crtc_page_flip { uint32_t crtc_id, fb_id, flags, reserved; uint64_t user_data; };
struct k_mode_create_dumb { uint32_t height, width, bpp, flags, handle, pitch; uint64_t size; };
struct k_mode_map_dumb { uint32_t handle, pad; uint64_t offset; };
struct k_mode_destroy_dumb { uint32_t handle; };
struct k_event { uint32_t type, length; };
struct k_event_vblank { struct k_event base; uint64_t user_data; uint32_t tv_sec, tv_usec, sequence, crtc_id; };

_Static_assert(sizeof(struct k_mode_card_res) == 64, "drm_mode_card_res");
_Static_assert(sizeof(struct k_mode_modeinfo) == 68, "drm_mode_modeinfo");
_Static_assert(sizeof(struct k_mode_crtc) == 104, "drm_mode_crtc");
_Static_assert(sizeof(struct k_mode_get_encoder) == 20, "drm_mode_get_encoder");
_Static_assert(sizeof(struct k_mode_get_connector) == 80, "drm_mode_get_connector");
_Static_assert(sizeof(struct k_mode_fb_cmd) == 28, "drm_mode_fb_cmd");
_Static_assert(sizeof(struct k_mode_crtc_page_flip) == 24, "drm_mode_crtc_page_flip");
_Static_assert(sizeof(struct k_mode_create_dumb) == 32, "drm_mode_create_dumb");
_Static_assert(sizeof(struct k_event_vblank) == 32, "drm_event_vblank");

#define K_IOCTL_MODE_GETRESOURCES _IOWR('d', 0xA0, struct k_mode_card_res)
#define K_IOCTL_MODE_SETCRTC      _IOWR('d', 0xA2, struct k_mode_crtc)
#define K_IOCTL_MODE_GETENCODER   _IOWR('d', 0xA6, struct k_mode_get_encoder)
#define K_IOCTL_MODE_GETCONNECTOR _IOWR('d', 0xA7, struct k_mode_get_connector)
#define K_IOCTL_MODE_ADDFB        _IOWR('d', 0xAE, struct k_mode_fb_cmd)
#define K_IOCTL_MODE_RMFB         _IOWR('d', 0xAF, unsigned int)
#define K_IOCTL_MODE_PAGE_FLIP    _IOWR('d', 0xB0, struct k_mode_crtc_page_flip)
#define K_IOCTL_MODE_CREATE_DUMB  _IOWR('d', 0xB2, struct k_mode_create_dumb)
#define K_IOCTL_MODE_MAP_DUMB     _IOWR('d', 0xB3, struct k_mode_map_dumb)
#define K_IOCTL_MODE_DESTROY_DUMB _IOWR('d', 0xB4, struct k_mode_destroy_dumb)
#define K_MODE_PAGE_FLIP_EVENT 0x01
#define K_EVENT_FLIP_COMPLETE 0x02
#define K_MODE_CONNECTED 1

#endif
