// Fan-out send path for WHEP subscribers: one libsrtp2 session per subscriber (keys from its
// DTLS handshake), each outgoing RTP packet copied once into a preallocated slot, its header
// patched in place (payload type, sequence number, timestamp, SSRC), protected, and queued;
// flush() sends every subscriber's queue with one sendmmsg() on the subscriber's ICE socket.
// No JS objects per packet. Single-threaded: called from Node's main thread only.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SLOT_BYTES (1500 + SRTP_MAX_TRAILER_LEN)
#define POOL_SLOTS 4096
#define SESSION_QUEUE 256
#define UNLIMITED 0x7fffffff

typedef struct session {
  srtp_t srtp;
  int open;
  int fd;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int queue[SESSION_QUEUE];
  int queued;
  int pending; /* on the pending list */
  struct session *next_pending;
  double sent, dropped, errors, protect_errors;
  int last_errno;
} session_t;

static uint8_t *pool;
static int pool_lens[POOL_SLOTS];
static int pool_free[POOL_SLOTS];
static int pool_nfree;
static session_t *pending_head;
static int srtp_ready;

static void pool_init(void) {
  pool = malloc((size_t)POOL_SLOTS * SLOT_BYTES);
  for (int i = 0; i < POOL_SLOTS; i++) pool_free[i] = POOL_SLOTS - 1 - i;
  pool_nfree = POOL_SLOTS;
}

/*
 * Sends up to `limit` packets of one session's queue (sendmmsg) and returns their slots; the
 * rest stays queued in order. A burst (a keyframe) thus leaves in slices, not all at once
 * into the receiver's socket buffer.
 */
static int flush_session(session_t *s, int limit) {
  int n = s->queued < limit ? s->queued : limit, sent = 0;
  if (n == 0) return 0;
  if (s->fd >= 0 && s->addrlen > 0) {
    struct mmsghdr msgs[SESSION_QUEUE];
    struct iovec iov[SESSION_QUEUE];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
    for (int i = 0; i < n; i++) {
      iov[i].iov_base = pool + (size_t)s->queue[i] * SLOT_BYTES;
      iov[i].iov_len = (size_t)pool_lens[s->queue[i]];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &s->addr;
      msgs[i].msg_hdr.msg_namelen = s->addrlen;
    }
    while (sent < n) {
      int r = sendmmsg(s->fd, msgs + sent, (unsigned)(n - sent), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        s->last_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) s->dropped += n - sent;
        else s->errors += n - sent;
        break;
      }
      if (r == 0) break;
      sent += r;
    }
    s->sent += sent;
  } else {
    s->dropped += n;
  }
  for (int i = 0; i < n; i++) pool_free[pool_nfree++] = s->queue[i];
  memmove(s->queue, s->queue + n, sizeof(int) * (size_t)(s->queued - n));
  s->queued -= n;
  return sent;
}

/* Flushes up to `limit` packets of every pending session; returns how many stay queued. */
static int flush_all(int limit) {
  int left = 0;
  session_t *s = pending_head, *still = NULL;
  pending_head = NULL;
  while (s) {
    session_t *next = s->next_pending;
    s->next_pending = NULL;
    flush_session(s, limit);
    if (s->queued > 0) {
      left += s->queued;
      s->next_pending = still;
      still = s;
    } else {
      s->pending = 0;
    }
    s = next;
  }
  pending_head = still;
  return left;
}

static void session_free(session_t *s) {
  if (!s->open) return;
  /* take it off the pending list, drop its queue */
  session_t **pp = &pending_head;
  while (*pp) {
    if (*pp == s) {
      *pp = s->next_pending;
      break;
    }
    pp = &(*pp)->next_pending;
  }
  for (int i = 0; i < s->queued; i++) pool_free[pool_nfree++] = s->queue[i];
  s->queued = 0;
  s->pending = 0;
  srtp_dealloc(s->srtp);
  s->open = 0;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  session_t *s = data;
  session_free(s);
  free(s);
}

#define THROW(msg)                          \
  do {                                      \
    napi_throw_error(env, NULL, msg);       \
    return NULL;                            \
  } while (0)

static session_t *get_session(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* open(profile, key, salt) → session. profile: 1 = AES128_CM_HMAC_SHA1_80, 7 = AEAD_AES_128_GCM. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t profile;
  void *key, *salt;
  size_t keylen, saltlen;
  if (argc < 3 || napi_get_value_uint32(env, argv[0], &profile) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &key, &keylen) != napi_ok ||
      napi_get_buffer_info(env, argv[2], &salt, &saltlen) != napi_ok)
    THROW("open(profile, key, salt)");
  srtp_policy_t policy;
  memset(&policy, 0, sizeof policy);
  if (profile == 1 && keylen == 16 && saltlen == 14) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
  } else if (profile == 7 && keylen == 16 && saltlen == 12) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
  } else {
    THROW("unsupported SRTP profile or key length");
  }
  uint8_t master[32];
  memcpy(master, key, keylen);
  memcpy(master + keylen, salt, saltlen);
  policy.key = master;
  policy.ssrc.type = ssrc_any_outbound;
  policy.window_size = 1024;
  policy.allow_repeat_tx = 1; /* NACK retransmissions protect the same index again */
  session_t *s = calloc(1, sizeof(session_t));
  s->fd = -1;
  srtp_err_status_t st = srtp_create(&s->srtp, &policy);
  if (st != srtp_err_status_ok) {
    free(s);
    char msg[64];
    snprintf(msg, sizeof msg, "srtp_create failed: %d", (int)st);
    THROW(msg);
  }
  s->open = 1;
  napi_value out;
  napi_create_external(env, s, finalize, NULL, &out);
  return out;
}

/* setDestination(session, fd, ip, port) → bool */
static napi_value js_set_destination(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 4 ? get_session(env, argv[0]) : NULL;
  int32_t fd;
  uint32_t port;
  char ip[64];
  size_t iplen;
  if (!s || napi_get_value_int32(env, argv[1], &fd) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], ip, sizeof ip, &iplen) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &port) != napi_ok)
    THROW("setDestination(session, fd, ip, port)");
  flush_session(s, UNLIMITED);
  napi_value ok;
  memset(&s->addr, 0, sizeof s->addr);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&s->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->addr;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    s->addrlen = sizeof *a4;
  } else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    s->addrlen = sizeof *a6;
  } else {
    s->addrlen = 0;
    s->fd = -1;
    napi_get_boolean(env, 0, &ok);
    return ok;
  }
  s->fd = fd;
  napi_get_boolean(env, 1, &ok);
  return ok;
}

/*
 * send(session, packet, ssrc, payloadType, seq, timestamp) → 0, or a libsrtp error code
 * (< 0: -1 bad packet, -2 no free slot). The packet is copied; the caller's buffer is unchanged.
 */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 6 ? get_session(env, argv[0]) : NULL;
  void *data;
  size_t len;
  uint32_t ssrc, pt, seq, ts;
  if (!s || !s->open || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &ssrc) != napi_ok || napi_get_value_uint32(env, argv[3], &pt) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &seq) != napi_ok || napi_get_value_uint32(env, argv[5], &ts) != napi_ok)
    THROW("send(session, packet, ssrc, payloadType, seq, timestamp)");
  int rc = 0;
  if (len < 12 || len > 1500) {
    rc = -1;
  } else {
    if (pool_nfree == 0) flush_all(UNLIMITED);
    if (s->queued == SESSION_QUEUE) flush_session(s, UNLIMITED);
    if (pool_nfree == 0) {
      rc = -2;
    } else {
      int slot = pool_free[--pool_nfree];
      uint8_t *b = pool + (size_t)slot * SLOT_BYTES;
      memcpy(b, data, len);
      b[1] = (uint8_t)((b[1] & 0x80) | (pt & 0x7f));
      b[2] = (uint8_t)(seq >> 8);
      b[3] = (uint8_t)seq;
      b[4] = (uint8_t)(ts >> 24);
      b[5] = (uint8_t)(ts >> 16);
      b[6] = (uint8_t)(ts >> 8);
      b[7] = (uint8_t)ts;
      b[8] = (uint8_t)(ssrc >> 24);
      b[9] = (uint8_t)(ssrc >> 16);
      b[10] = (uint8_t)(ssrc >> 8);
      b[11] = (uint8_t)ssrc;
      int plen = (int)len;
      srtp_err_status_t st = srtp_protect(s->srtp, b, &plen);
      if (st != srtp_err_status_ok) {
        pool_free[pool_nfree++] = slot;
        s->protect_errors++;
        rc = (int)st;
      } else {
        pool_lens[slot] = plen;
        s->queue[s->queued++] = slot;
        if (!s->pending) {
          s->pending = 1;
          s->next_pending = pending_head;
          pending_head = s;
        }
      }
    }
  }
  napi_value out;
  napi_create_int32(env, rc, &out);
  return out;
}

/* flush([limit]) → packets still queued (each session sent at most `limit` this time). */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t limit = UNLIMITED;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &limit) != napi_ok) limit = UNLIMITED;
  if (limit <= 0) limit = UNLIMITED;
  napi_value out;
  napi_create_int32(env, flush_all(limit), &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 1 ? get_session(env, argv[0]) : NULL;
  if (s) session_free(s);
  return NULL;
}

static void set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

/* stats(session) → { sent, dropped, errors, protectErrors, lastErrno } */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 1 ? get_session(env, argv[0]) : NULL;
  if (!s) THROW("stats(session)");
  napi_value obj;
  napi_create_object(env, &obj);
  set_num(env, obj, "sent", s->sent);
  set_num(env, obj, "dropped", s->dropped);
  set_num(env, obj, "errors", s->errors);
  set_num(env, obj, "protectErrors", s->protect_errors);
  set_num(env, obj, "lastErrno", s->last_errno);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!srtp_ready) {
    if (srtp_init() != srtp_err_status_ok) THROW("srtp_init failed");
    pool_init();
    srtp_ready = 1;
  }
  napi_property_descriptor props[] = {
      {"open", 0, js_open, 0, 0, 0, napi_default, 0},
      {"setDestination", 0, js_set_destination, 0, 0, 0, napi_default, 0},
      {"send", 0, js_send, 0, 0, 0, napi_default, 0},
      {"flush", 0, js_flush, 0, 0, 0, napi_default, 0},
      {"close", 0, js_close, 0, 0, 0, napi_default, 0},
      {"stats", 0, js_stats, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
