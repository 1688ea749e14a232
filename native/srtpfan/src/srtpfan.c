// Fan-out send path for WHEP subscribers: one libsrtp2 session per subscriber (keys from its
// DTLS handshake), each outgoing RTP packet copied once into a preallocated slot, its header
// patched in place (payload type, sequence number, timestamp, SSRC), protected, and queued;
// a flush protects and sends every subscriber's queue with one sendmmsg() on the subscriber's
// ICE socket, on Node's main thread (flush()) or on the addon's send thread (startThread(),
// kick()). No JS objects per packet. The JS API is called from the main thread only.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <node_api.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define SLOT_BYTES (1500 + SRTP_MAX_TRAILER_LEN)
/* Slots are touched only when used: a large pool costs address space, not memory. */
#define POOL_SLOTS 32768
#define SESSION_QUEUE 1024
#define UNLIMITED 0x7fffffff
#define DELAYS 1024
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
/* UDP GSO: at most this many segments, and bytes, in one message (the kernel's limits). */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 60000

/*
 * Threads. send() (Node's main thread) copies and patches a packet into a slot and queues it;
 * the flush protects and sends. The flush runs either on the main thread (flush()) or on the
 * addon's own send thread (startThread(), then kick() once per event-loop turn), so SRTP and
 * the send syscalls use another core. `mu` guards the pool, every session's queue, address and
 * counters, and the pending list; a session's SRTP context is used by one flush at a time: a
 * flush takes the sessions it will send (busy), works on them without the lock, and gives them
 * back. A session closed or collected while busy is finished by the flush that holds it.
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int thread_started, wake, thread_limit = UNLIMITED;
/* EGRESS_GSO=0 (setGso(false)): one datagram per message for every subscriber. */
static int gso_off;

typedef struct session {
  srtp_t srtp;
  int open;
  int fd;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  int queue[SESSION_QUEUE];
  int queued;
  int pending; /* on the pending list, or taken by a flush */
  int busy;    /* taken by a flush: SRTP in use, not on the list */
  int dealloc_srtp; /* closed while busy: the flush deallocates */
  int no_gso;       /* its socket refused UDP GSO: one datagram per message */
  int orphaned;     /* collected while busy: the flush frees it */
  struct session *next_pending;
  double sent, dropped, errors, protect_errors, messages;
  int last_errno;
} session_t;

/*
 * Groups packets [from, m) into messages: with GSO, a run of equal-sized packets (and one
 * shorter one after it) is one message the kernel cuts back into those datagrams (UDP_SEGMENT:
 * one trip down the stack instead of one per packet); without, one packet per message.
 * Returns how many messages; npk[j] is how many packets message j carries.
 */
static int build_messages(struct mmsghdr *msgs, struct iovec *iov, int *npk, char (*cbuf)[CMSG_SPACE(sizeof(uint16_t))],
                          int from, int m, int gso, struct sockaddr_storage *addr, socklen_t addrlen) {
  int nm = 0;
  for (int i = from; i < m;) {
    size_t seg = iov[i].iov_len;
    int k = 1;
    if (gso) {
      while (i + k < m && k < GSO_MAX_SEGMENTS && iov[i + k].iov_len == seg && (size_t)(k + 1) * seg <= GSO_MAX_BYTES) k++;
      if (i + k < m && k < GSO_MAX_SEGMENTS && iov[i + k].iov_len < seg && k * seg + iov[i + k].iov_len <= GSO_MAX_BYTES) k++;
    }
    struct msghdr *h = &msgs[nm].msg_hdr;
    memset(&msgs[nm], 0, sizeof msgs[nm]);
    h->msg_iov = &iov[i];
    h->msg_iovlen = (size_t)k;
    h->msg_name = addr;
    h->msg_namelen = addrlen;
    if (k > 1) {
      h->msg_control = cbuf[nm];
      h->msg_controllen = sizeof cbuf[nm];
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = (uint16_t)seg;
      memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    npk[nm++] = k;
    i += k;
  }
  return nm;
}

static uint8_t *pool;
static int pool_lens[POOL_SLOTS];
static double pool_at[POOL_SLOTS]; /* when each slot's packet was queued (µs) */
static int pool_free[POOL_SLOTS];
static int pool_nfree;
static session_t *pending_head;
static int srtp_ready;
/* The fan-out delay: per flush round, the longest a packet it sent had waited since send() (µs). */
static double delays[DELAYS];
static int ndelays;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void pool_init(void) {
  pool = malloc((size_t)POOL_SLOTS * SLOT_BYTES);
  for (int i = 0; i < POOL_SLOTS; i++) pool_free[i] = POOL_SLOTS - 1 - i;
  pool_nfree = POOL_SLOTS;
}

/* With `mu` held: puts a session with packets on the pending list (unless it is on it or taken). */
static void mark_pending(session_t *s) {
  if (s->pending || s->queued == 0) return;
  s->pending = 1;
  s->next_pending = pending_head;
  pending_head = s;
}

/*
 * Sends up to `limit` packets of one taken session's queue: protected, then one sendmmsg. The
 * lock is held only to take the slots and to give them back. A burst (a keyframe) thus leaves
 * in slices, not all at once into the receiver's socket buffer.
 */
static double flush_session(session_t *s, int limit) {
  int slots[SESSION_QUEUE];
  struct sockaddr_storage addr;
  pthread_mutex_lock(&mu);
  int n = s->open ? (s->queued < limit ? s->queued : limit) : 0;
  memcpy(slots, s->queue, sizeof(int) * (size_t)n);
  memmove(s->queue, s->queue + n, sizeof(int) * (size_t)(s->queued - n));
  s->queued -= n;
  int fd = s->fd;
  int no_gso = s->no_gso || gso_off;
  socklen_t addrlen = s->addrlen;
  memcpy(&addr, &s->addr, sizeof addr);
  pthread_mutex_unlock(&mu);

  struct mmsghdr msgs[SESSION_QUEUE];
  struct iovec iov[SESSION_QUEUE];
  int m = 0, protect_errors = 0, sent = 0, err = 0;
  for (int i = 0; i < n; i++) {
    uint8_t *b = pool + (size_t)slots[i] * SLOT_BYTES;
    int plen = pool_lens[slots[i]];
    if (srtp_protect(s->srtp, b, &plen) != srtp_err_status_ok) {
      protect_errors++;
      continue;
    }
    iov[m].iov_base = b;
    iov[m].iov_len = (size_t)plen;
    m++;
  }
  double dropped = 0, errors = 0, waited = 0, messages = 0;
  int refused_gso = 0;
  if (fd >= 0 && addrlen > 0) {
    int npk[SESSION_QUEUE];
    static __thread char cbuf[SESSION_QUEUE][CMSG_SPACE(sizeof(uint16_t))];
    int gso = !no_gso;
    int nm = build_messages(msgs, iov, npk, cbuf, 0, m, gso, &addr, addrlen), j = 0;
    while (j < nm) {
      int r = sendmmsg(fd, msgs + j, (unsigned)(nm - j), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (gso && npk[j] > 1 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
          /* This socket's route cannot segment (no checksum offload, an old kernel): one by one from here on. */
          gso = 0;
          refused_gso = 1;
          nm = build_messages(msgs, iov, npk, cbuf, sent, m, 0, &addr, addrlen);
          j = 0;
          continue;
        }
        err = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) dropped += m - sent;
        else errors += m - sent;
        break;
      }
      if (r == 0) break;
      for (int k = 0; k < r; k++) sent += npk[j + k];
      messages += r;
      j += r;
    }
  } else {
    dropped += m;
  }

  double done = now_us();
  pthread_mutex_lock(&mu);
  for (int i = 0; i < n; i++) {
    if (done - pool_at[slots[i]] > waited) waited = done - pool_at[slots[i]];
    pool_free[pool_nfree++] = slots[i];
  }
  s->sent += sent;
  s->messages += messages;
  if (refused_gso) s->no_gso = 1;
  s->dropped += dropped;
  s->errors += errors;
  s->protect_errors += protect_errors;
  if (err) s->last_errno = err;
  pthread_mutex_unlock(&mu);
  return sent > 0 ? waited : 0;
}

/*
 * One round: every pending session sends up to `limit` packets. Returns how many stay queued.
 * Records the longest any packet it sent had waited (a mixer packet reaching the fan-out → this
 * copy sent), so the figure is the same whichever thread flushes.
 */
static int flush_all(int limit) {
  static __thread session_t **taken; /* per flushing thread */
  static __thread size_t cap;
  size_t count = 0;
  pthread_mutex_lock(&mu);
  for (session_t *s = pending_head; s; s = s->next_pending) count++;
  if (count > cap) {
    session_t **grown = realloc(taken, count * sizeof *taken);
    if (!grown) count = cap; /* out of memory: take what fits, the rest waits */
    else {
      taken = grown;
      cap = count;
    }
  }
  session_t *s = pending_head;
  for (size_t i = 0; i < count; i++) {
    taken[i] = s;
    s->busy = 1;
    s = s->next_pending;
  }
  pending_head = s;
  pthread_mutex_unlock(&mu);

  double waited = 0;
  for (size_t i = 0; i < count; i++) {
    double w = flush_session(taken[i], limit);
    if (w > waited) waited = w;
  }

  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < count; i++) {
    session_t *t = taken[i];
    t->busy = 0;
    t->pending = 0;
    if (t->dealloc_srtp) {
      srtp_dealloc(t->srtp);
      t->dealloc_srtp = 0;
    }
    if (t->orphaned) free(t);
    else if (t->open) mark_pending(t);
  }
  int left = 0;
  for (session_t *p = pending_head; p; p = p->next_pending) left += p->queued;
  if (waited > 0 && ndelays < DELAYS) delays[ndelays++] = waited;
  pthread_mutex_unlock(&mu);
  return left;
}

/* The send thread: a round whenever kicked, then one each millisecond while queues are left. */
static void *send_thread(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (!wake) pthread_cond_wait(&cv, &mu);
    wake = 0;
    int limit = thread_limit;
    pthread_mutex_unlock(&mu);
    while (flush_all(limit) > 0) {
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, NULL);
    }
  }
  return NULL;
}

/* With `mu` held: closes a session (idempotent); its SRTP context goes now or when its flush ends. */
static void session_free(session_t *s) {
  if (!s->open) return;
  if (s->pending && !s->busy) {
    session_t **pp = &pending_head;
    while (*pp) {
      if (*pp == s) {
        *pp = s->next_pending;
        break;
      }
      pp = &(*pp)->next_pending;
    }
    s->pending = 0;
  }
  for (int i = 0; i < s->queued; i++) pool_free[pool_nfree++] = s->queue[i];
  s->queued = 0;
  if (s->busy) s->dealloc_srtp = 1;
  else srtp_dealloc(s->srtp);
  s->open = 0;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  session_t *s = data;
  pthread_mutex_lock(&mu);
  session_free(s);
  int busy = s->busy;
  if (busy) s->orphaned = 1;
  pthread_mutex_unlock(&mu);
  if (!busy) free(s);
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
  napi_value ok;
  pthread_mutex_lock(&mu);
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
    pthread_mutex_unlock(&mu);
    napi_get_boolean(env, 0, &ok);
    return ok;
  }
  s->fd = fd;
  pthread_mutex_unlock(&mu);
  napi_get_boolean(env, 1, &ok);
  return ok;
}

/*
 * send(session, packet, ssrc, payloadType, seq, timestamp) → 0, or < 0: -1 bad packet, -2 no
 * free slot or the subscriber's queue is full (dropped). The packet is copied and patched; the
 * flush protects and sends it. The caller's buffer is unchanged.
 */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 6 ? get_session(env, argv[0]) : NULL;
  void *data;
  size_t len;
  uint32_t ssrc, pt, seq, ts;
  if (!s || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &ssrc) != napi_ok || napi_get_value_uint32(env, argv[3], &pt) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &seq) != napi_ok || napi_get_value_uint32(env, argv[5], &ts) != napi_ok)
    THROW("send(session, packet, ssrc, payloadType, seq, timestamp)");
  int rc = 0;
  pthread_mutex_lock(&mu);
  if (!s->open || len < 12 || len > 1500) {
    rc = -1;
  } else if (pool_nfree == 0 || s->queued == SESSION_QUEUE) {
    s->dropped++;
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
    pool_lens[slot] = (int)len;
    s->queue[s->queued++] = slot;
    pool_at[slot] = now_us();
    mark_pending(s);
  }
  pthread_mutex_unlock(&mu);
  napi_value out;
  napi_create_int32(env, rc, &out);
  return out;
}

/* The optional first argument: packets per subscriber per round (absent or ≤ 0: no limit). */
static int32_t limit_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t limit = UNLIMITED;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &limit) != napi_ok) limit = UNLIMITED;
  return limit <= 0 ? UNLIMITED : limit;
}

/* flush([limit]) → packets still queued (each session sent at most `limit` this time). */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  int32_t limit = limit_arg(env, info);
  napi_value out;
  napi_create_int32(env, flush_all(limit), &out);
  return out;
}

/* kick([limit]) → nothing: the send thread flushes (a round now, then one per ms while any is left). */
static napi_value js_kick(napi_env env, napi_callback_info info) {
  int32_t limit = limit_arg(env, info);
  pthread_mutex_lock(&mu);
  thread_limit = limit;
  wake = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* setGso(on): UDP GSO for every subscriber (default on; a socket that refuses it falls back alone). */
static napi_value js_set_gso(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = true;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_bool(env, argv[0], &on);
  pthread_mutex_lock(&mu);
  gso_off = !on;
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* startThread() → bool: the send thread runs (idempotent); false if it could not be created. */
static napi_value js_start_thread(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&mu);
  if (!thread_started) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* flush_session keeps SESSION_QUEUE-long arrays of message headers on its stack. */
    pthread_attr_setstacksize(&attr, 1 << 20);
    thread_started = pthread_create(&t, &attr, send_thread, NULL) == 0;
    pthread_attr_destroy(&attr);
  }
  int ok = thread_started;
  pthread_mutex_unlock(&mu);
  napi_value out;
  napi_get_boolean(env, ok, &out);
  return out;
}

/* takeDelays() → the fan-out delays (µs) recorded since the last call, oldest first. */
static napi_value js_take_delays(napi_env env, napi_callback_info info) {
  (void)info;
  static double copy[DELAYS];
  pthread_mutex_lock(&mu);
  int n = ndelays;
  memcpy(copy, delays, sizeof(double) * (size_t)n);
  ndelays = 0;
  pthread_mutex_unlock(&mu);
  napi_value arr;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_value v;
    napi_create_double(env, copy[i], &v);
    napi_set_element(env, arr, (uint32_t)i, v);
  }
  return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 1 ? get_session(env, argv[0]) : NULL;
  if (s) {
    pthread_mutex_lock(&mu);
    session_free(s);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}


static void set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

/* stats(session) → { sent, dropped, errors, protectErrors, lastErrno, messages (sendmmsg messages), gso } */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  session_t *s = argc >= 1 ? get_session(env, argv[0]) : NULL;
  if (!s) THROW("stats(session)");
  pthread_mutex_lock(&mu);
  double sent = s->sent, dropped = s->dropped, errors = s->errors, protect_errors = s->protect_errors, last_errno = s->last_errno;
  double messages = s->messages, gso = !s->no_gso && !gso_off;
  pthread_mutex_unlock(&mu);
  napi_value obj;
  napi_create_object(env, &obj);
  set_num(env, obj, "sent", sent);
  set_num(env, obj, "dropped", dropped);
  set_num(env, obj, "errors", errors);
  set_num(env, obj, "protectErrors", protect_errors);
  set_num(env, obj, "lastErrno", last_errno);
  set_num(env, obj, "messages", messages);
  napi_value g;
  napi_get_boolean(env, gso != 0, &g);
  napi_set_named_property(env, obj, "gso", g);
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
      {"kick", 0, js_kick, 0, 0, 0, napi_default, 0},
      {"startThread", 0, js_start_thread, 0, 0, 0, napi_default, 0},
      {"takeDelays", 0, js_take_delays, 0, 0, 0, napi_default, 0},
      {"setGso", 0, js_set_gso, 0, 0, 0, napi_default, 0},
      {"stats", 0, js_stats, 0, 0, 0, napi_default, 0},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
