// A minimal Opus decoder for the ingest (libopus from Debian's libopus-dev), with what the
// npm bindings tried here do not give: packet-loss concealment of exactly one frame's length
// (opus_decode with no data and a frame size) and in-band FEC (decode_fec from the next packet).
//
//   create(sampleRate, channels) -> handle
//   decode(handle, packet | null, fec: boolean, frameSize) -> Int16Array (interleaved)
//   samples(packet, sampleRate) -> samples per channel the packet holds, or -1

#include <node_api.h>
#include <opus.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME 5760 /* 120 ms at 48 kHz */

typedef struct {
  OpusDecoder *dec;
  int channels;
} Handle;

static void finalize(napi_env env, void *data, void *hint) {
  Handle *h = (Handle *)data;
  if (h->dec) opus_decoder_destroy(h->dec);
  free(h);
}

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t rate = 48000, channels = 1;
  if (argc >= 1) napi_get_value_int32(env, argv[0], &rate);
  if (argc >= 2) napi_get_value_int32(env, argv[1], &channels);
  if (channels < 1 || channels > 2) return throw_error(env, "channels must be 1 or 2");
  int err = 0;
  OpusDecoder *dec = opus_decoder_create(rate, channels, &err);
  if (err != OPUS_OK || !dec) return throw_error(env, opus_strerror(err));
  Handle *h = (Handle *)malloc(sizeof(Handle));
  h->dec = dec;
  h->channels = channels;
  napi_value ext;
  napi_create_external(env, h, finalize, NULL, &ext);
  return ext;
}

static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return throw_error(env, "decode(handle, packet, fec, frameSize)");
  Handle *h = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return throw_error(env, "bad handle");
  const unsigned char *data = NULL;
  size_t len = 0;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_null && t != napi_undefined) {
    void *p = NULL;
    if (napi_get_buffer_info(env, argv[1], &p, &len) != napi_ok) return throw_error(env, "packet must be a Buffer or null");
    data = (const unsigned char *)p;
  }
  bool fec = false;
  napi_get_value_bool(env, argv[2], &fec);
  int32_t frame = 960;
  napi_get_value_int32(env, argv[3], &frame);
  if (frame <= 0 || frame > MAX_FRAME) return throw_error(env, "bad frame size");
  opus_int16 pcm[MAX_FRAME * 2];
  int n = opus_decode(h->dec, len ? data : NULL, (opus_int32)len, pcm, frame, fec ? 1 : 0);
  if (n < 0) return throw_error(env, opus_strerror(n));
  size_t bytes = (size_t)n * h->channels * sizeof(opus_int16);
  void *out = NULL;
  napi_value ab, arr;
  napi_create_arraybuffer(env, bytes, &out, &ab);
  memcpy(out, pcm, bytes);
  napi_create_typedarray(env, napi_int16_array, (size_t)n * h->channels, ab, 0, &arr);
  return arr;
}

static napi_value samples(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  size_t len = 0;
  int32_t rate = 48000;
  napi_value res;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &p, &len) != napi_ok || len == 0) {
    napi_create_int32(env, -1, &res);
    return res;
  }
  if (argc >= 2) napi_get_value_int32(env, argv[1], &rate);
  int n = opus_packet_get_nb_samples((const unsigned char *)p, (opus_int32)len, rate);
  napi_create_int32(env, n < 0 ? -1 : n, &res);
  return res;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
    {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
    {"samples", NULL, samples, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
