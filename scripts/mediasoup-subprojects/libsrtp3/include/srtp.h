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
 * and libsrtp 3's opaque policy API (mediasoup >= 3.2x builds its sessions
 * with it):
 *
 *   srtp_policy_create(&policy), srtp_policy_destroy(policy)
 *   srtp_policy_set_ssrc / _set_profile / _add_key / _set_allow_repeat_tx /
 *   _set_window_size, srtp_create(&session, policy)
 *
 * libsrtp2's public policy struct is renamed while its header is included
 * (`srtp_policy_t` is libsrtp 3's opaque pointer type from then on); the shim
 * fills one such struct per opaque policy and hands it to libsrtp2's
 * srtp_create(). Only a single master key without MKI is supported (what
 * mediasoup uses): srtp_policy_add_key() refuses anything else with
 * srtp_err_status_bad_param.
 */
#ifndef SUBSEC_LIBSRTP3_COMPAT_SRTP_H
#define SUBSEC_LIBSRTP3_COMPAT_SRTP_H

/* libsrtp2's struct srtp_policy_t becomes subsec_srtp2_policy_t (same ABI). */
#define srtp_policy_t subsec_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t

#include <limits.h>
#include <stdlib.h>
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


/* ---- libsrtp 3 opaque policy API over libsrtp2's policy struct ------------------------------ */

struct subsec_srtp3_policy {
    subsec_srtp2_policy_t policy;
    unsigned char key[SRTP_MAX_KEY_LEN];
    int profile_set;
};

/* libsrtp 3: an opaque policy handle. */
typedef struct subsec_srtp3_policy *srtp_policy_t;

static inline srtp_err_status_t srtp_policy_create(srtp_policy_t *policy)
{
    struct subsec_srtp3_policy *p;

    if (policy == NULL)
        return srtp_err_status_bad_param;
    p = (struct subsec_srtp3_policy *)calloc(1, sizeof(*p));
    if (p == NULL)
        return srtp_err_status_alloc_fail;
    p->policy.key = p->key;
    p->policy.next = NULL;
    *policy = p;
    return srtp_err_status_ok;
}

static inline void srtp_policy_destroy(srtp_policy_t policy)
{
    if (policy == NULL)
        return;
    /* Do not leave key material in freed memory. */
    memset(policy->key, 0, sizeof(policy->key));
    free(policy);
}

static inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy,
                                                     srtp_ssrc_t ssrc)
{
    if (policy == NULL)
        return srtp_err_status_bad_param;
    policy->policy.ssrc = ssrc;
    return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy,
                                                        srtp_profile_t profile)
{
    srtp_err_status_t err;

    if (policy == NULL)
        return srtp_err_status_bad_param;
    err = srtp_crypto_policy_set_from_profile_for_rtp(&policy->policy.rtp,
                                                       profile);
    if (err != srtp_err_status_ok)
        return err;
    err = srtp_crypto_policy_set_from_profile_for_rtcp(&policy->policy.rtcp,
                                                        profile);
    if (err != srtp_err_status_ok)
        return err;
    policy->profile_set = 1;
    return srtp_err_status_ok;
}

/* libsrtp2 takes key || salt in one buffer whose length the profile fixes. */
static inline srtp_err_status_t srtp_policy_add_key(srtp_policy_t policy,
                                                    const uint8_t *key,
                                                    size_t key_len,
                                                    const uint8_t *salt,
                                                    size_t salt_len,
                                                    const uint8_t *mki,
                                                    size_t mki_len)
{
    if (policy == NULL || key == NULL || (salt == NULL && salt_len != 0))
        return srtp_err_status_bad_param;
    if (mki != NULL || mki_len != 0 || !policy->profile_set)
        return srtp_err_status_bad_param;
    if (key_len + salt_len > sizeof(policy->key) ||
        key_len + salt_len != (size_t)policy->policy.rtp.cipher_key_len)
        return srtp_err_status_bad_param;
    memcpy(policy->key, key, key_len);
    if (salt_len != 0)
        memcpy(policy->key + key_len, salt, salt_len);
    return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(
    srtp_policy_t policy,
    int allow)
{
    if (policy == NULL)
        return srtp_err_status_bad_param;
    policy->policy.allow_repeat_tx = allow ? 1 : 0;
    return srtp_err_status_ok;
}

static inline srtp_err_status_t srtp_policy_set_window_size(
    srtp_policy_t policy,
    size_t window_size)
{
    if (policy == NULL)
        return srtp_err_status_bad_param;
    policy->policy.window_size = (unsigned long)window_size;
    return srtp_err_status_ok;
}

/* libsrtp 3's srtp_create() takes the opaque policy. */
static inline srtp_err_status_t subsec_srtp3_create(srtp_t *session,
                                                   srtp_policy_t policy)
{
    return srtp_create(session, policy != NULL ? &policy->policy : NULL);
}

#ifdef __cplusplus
}
#endif

/* From here on, the libsrtp 3 names refer to the shims above. */
#define srtp_create subsec_srtp3_create
#define srtp_protect subsec_srtp3_protect
#define srtp_protect_rtcp subsec_srtp3_protect_rtcp
#define srtp_unprotect subsec_srtp3_unprotect
#define srtp_unprotect_rtcp subsec_srtp3_unprotect_rtcp

#endif /* SUBSEC_LIBSRTP3_COMPAT_SRTP_H */
