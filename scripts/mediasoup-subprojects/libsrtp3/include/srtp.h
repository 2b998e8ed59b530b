/*
 * libsrtp3 -> libsrtp2 compatibility header (subsec offline mediasoup build).
 *
 * mediasoup's worker is written against libsrtp 3 (versatica's fork), whose
 * protect/unprotect calls take separate input and output buffers and size_t
 * lengths. Debian only ships libsrtp2 (in-place calls, int lengths). This header
 * is found first as <srtp.h> (include dir of the `libsrtp3` stub subproject),
 * includes the real libsrtp2 header, and maps the libsrtp 3 call shapes that
 * mediasoup uses onto libsrtp2:
 *
 *   srtp_protect(ctx, in, in_len, out, &out_len, mki_index)
 *   srtp_unprotect(ctx, in, in_len, out, &out_len)
 *   srtp_protect_rtcp(ctx, in, in_len, out, &out_len, mki_index)
 *   srtp_unprotect_rtcp(ctx, in, in_len, out, &out_len)
 *   srtp_stream_remove(session, ssrc)
 *   srtp_err_status_buffer_small, srtp_err_status_cryptex_err
 *
 * `*out_len` is the capacity of `out` on input and the resulting length on
 * output (libsrtp 3 semantics). When `out != in` the input is first copied
 * into `out`, then libsrtp2 works in place there. MKI is not supported: a
 * non-zero mki_index selects libsrtp2's MKI variant, which only works if the
 * session was created with MKI keys (mediasoup always passes 0).
 *
 * The libsrtp 3 opaque policy API (srtp_policy_create() & co., used by
 * mediasoup >= 3.2x) is intentionally not provided: mediasoup 3.18.x fills
 * `srtp_policy_t` directly, which libsrtp2 supports as is.
 */
#ifndef SUBSEC_LIBSRTP3_COMPAT_SRTP_H
#define SUBSEC_LIBSRTP3_COMPAT_SRTP_H

#include <srtp2/srtp.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libsrtp 3 error codes missing from libsrtp2 (whose last code is 27). */
#define srtp_err_status_buffer_small ((srtp_err_status_t)28)
#define srtp_err_status_cryptex_err ((srtp_err_status_t)29)

typedef srtp_err_status_t (*subsec_srtp2_inplace_fn)(srtp_t, void *, int *);
typedef srtp_err_status_t (*subsec_srtp2_inplace_mki_fn)(srtp_t,
                                                         void *,
                                                         int *,
                                                         unsigned int,
                                                         unsigned int);

static inline srtp_err_status_t subsec_srtp3_protect_common(
    subsec_srtp2_inplace_fn fn,
    subsec_srtp2_inplace_mki_fn fn_mki,
    srtp_t ctx,
    const uint8_t *in,
    size_t in_len,
    uint8_t *out,
    size_t *out_len,
    size_t mki_index)
{
    int len;
    srtp_err_status_t err;

    if (ctx == NULL || in == NULL || out == NULL || out_len == NULL)
        return srtp_err_status_bad_param;
    if (in_len > (size_t)(INT_MAX - SRTP_MAX_TRAILER_LEN))
        return srtp_err_status_bad_param;
    /* libsrtp2 may append up to SRTP_MAX_TRAILER_LEN bytes in place. */
    if (*out_len < in_len + SRTP_MAX_TRAILER_LEN)
        return srtp_err_status_buffer_small;
    if (out != in)
        memmove(out, in, in_len);

    len = (int)in_len;
    if (mki_index == 0)
        err = fn(ctx, out, &len);
    else
        err = fn_mki(ctx, out, &len, 1u, (unsigned int)mki_index);

    if (err == srtp_err_status_ok)
        *out_len = (size_t)len;

    return err;
}

static inline srtp_err_status_t subsec_srtp3_unprotect_common(
    subsec_srtp2_inplace_fn fn,
    srtp_t ctx,
    const uint8_t *in,
    size_t in_len,
    uint8_t *out,
    size_t *out_len)
{
    int len;
    srtp_err_status_t err;

    if (ctx == NULL || in == NULL || out == NULL || out_len == NULL)
        return srtp_err_status_bad_param;
    if (in_len > (size_t)INT_MAX)
        return srtp_err_status_bad_param;
    if (out != in) {
        if (*out_len < in_len)
            return srtp_err_status_buffer_small;
        memmove(out, in, in_len);
    }

    len = (int)in_len;
    err = fn(ctx, out, &len);

    if (err == srtp_err_status_ok)
        *out_len = (size_t)len;

    return err;
}

static inline srtp_err_status_t subsec_srtp3_protect(srtp_t ctx,
                                                     const uint8_t *rtp,
                                                     size_t rtp_len,
                                                     uint8_t *srtp,
                                                     size_t *srtp_len,
                                                     size_t mki_index)
{
    return subsec_srtp3_protect_common(srtp_protect, srtp_protect_mki, ctx,
                                       rtp, rtp_len, srtp, srtp_len,
                                       mki_index);
}

static inline srtp_err_status_t subsec_srtp3_protect_rtcp(srtp_t ctx,
                                                          const uint8_t *rtcp,
                                                          size_t rtcp_len,
                                                          uint8_t *srtcp,
                                                          size_t *srtcp_len,
                                                          size_t mki_index)
{
    return subsec_srtp3_protect_common(srtp_protect_rtcp,
                                       srtp_protect_rtcp_mki, ctx, rtcp,
                                       rtcp_len, srtcp, srtcp_len, mki_index);
}

static inline srtp_err_status_t subsec_srtp3_unprotect(srtp_t ctx,
                                                       const uint8_t *srtp,
                                                       size_t srtp_len,
                                                       uint8_t *rtp,
                                                       size_t *rtp_len)
{
    return subsec_srtp3_unprotect_common(srtp_unprotect, ctx, srtp, srtp_len,
                                         rtp, rtp_len);
}

static inline srtp_err_status_t subsec_srtp3_unprotect_rtcp(srtp_t ctx,
                                                            const uint8_t *srtcp,
                                                            size_t srtcp_len,
                                                            uint8_t *rtcp,
                                                            size_t *rtcp_len)
{
    return subsec_srtp3_unprotect_common(srtp_unprotect_rtcp, ctx, srtcp,
                                         srtcp_len, rtcp, rtcp_len);
}

/* libsrtp 3 name; ssrc in network byte order as in libsrtp2. */
static inline srtp_err_status_t srtp_stream_remove(srtp_t session,
                                                   uint32_t ssrc)
{
    return srtp_remove_stream(session, (unsigned int)ssrc);
}

#ifdef __cplusplus
}
#endif

/* From here on, the libsrtp 3 names refer to the shims above. */
#define srtp_protect subsec_srtp3_protect
#define srtp_protect_rtcp subsec_srtp3_protect_rtcp
#define srtp_unprotect subsec_srtp3_unprotect
#define srtp_unprotect_rtcp subsec_srtp3_unprotect_rtcp

#endif /* SUBSEC_LIBSRTP3_COMPAT_SRTP_H */
