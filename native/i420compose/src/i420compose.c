// Draws I420 (yuv420p) tiles onto an I420 canvas for the room mixer (workers/mixer/
// CanvasComposer.ts): a crop of a slot's picture, scaled to its tile with libswscale's bilinear
// filter (what FFmpeg's `scale=flags=bilinear` did inside the compositor), or copied row by row
// when its size does not change; and the background fill. Everything in place, in the caller's
// buffers: no allocation per call but libswscale's contexts, kept per geometry.
// Single-threaded use: called from Node's main thread. Bad arguments throw; nothing is written.

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#define MAX_CONTEXTS 32

typedef struct {
  int sw, sh, dw, dh;
  struct SwsContext *ctx;
} Cached;

static Cached cache[MAX_CONTEXTS];
static int cached = 0;
static int next_evict = 0;

static struct SwsContext *context_for(int sw, int sh, int dw, int dh) {
  for (int i = 0; i < cached; i++) {
    if (cache[i].sw == sw && cache[i].sh == sh && cache[i].dw == dw && cache[i].dh == dh) return cache[i].ctx;
  }
  struct SwsContext *ctx = sws_getContext(sw, sh, AV_PIX_FMT_YUV420P, dw, dh, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
  if (!ctx) return NULL;
  int slot = cached < MAX_CONTEXTS ? cached++ : (next_evict++ % MAX_CONTEXTS);
  if (cache[slot].ctx) sws_freeContext(cache[slot].ctx);
  cache[slot] = (Cached){sw, sh, dw, dh, ctx};
  return ctx;
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_I420COMPOSE", msg);
  return NULL;
}

static int get_ints(napi_env env, napi_value *argv, size_t from, size_t n, int *out) {
  for (size_t i = 0; i < n; i++) {
    if (napi_get_value_int32(env, argv[from + i], &out[i]) != napi_ok) return 0;
  }
  return 1;
}

static int get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_buffer_info(env, v, (void **)data, len) == napi_ok;
}

static size_t i420_size(int w, int h) {
  return (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
}

static int even_rect_inside(int x, int y, int w, int h, int W, int H) {
  return x >= 0 && y >= 0 && w >= 2 && h >= 2 && !(x & 1) && !(y & 1) && !(w & 1) && !(h & 1) && x + w <= W && y + h <= H;
}

// Plane pointers and strides of an I420 picture of width w, height h at (x, y) (even).
static void planes(uint8_t *base, int w, int h, int x, int y, uint8_t *p[3], int stride[3]) {
  int cw = (w + 1) / 2, ch = (h + 1) / 2;
  stride[0] = w;
  stride[1] = stride[2] = cw;
  p[0] = base + (size_t)y * w + x;
  p[1] = base + (size_t)w * h + (size_t)(y / 2) * cw + x / 2;
  p[2] = base + (size_t)w * h + (size_t)cw * ch + (size_t)(y / 2) * cw + x / 2;
}

// draw(canvas, canvasW, canvasH, src, srcW, srcH, cropX, cropY, cropW, cropH, dstX, dstY, dstW, dstH)
static napi_value draw(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 14) return fail(env, "draw takes 14 arguments");
  uint8_t *dst, *src;
  size_t dlen, slen;
  int a[12];
  if (!get_buffer(env, argv[0], &dst, &dlen) || !get_buffer(env, argv[3], &src, &slen)) return fail(env, "canvas and picture must be Buffers");
  if (!get_ints(env, argv, 1, 2, a) || !get_ints(env, argv, 4, 10, a + 2)) return fail(env, "sizes and rects must be integers");
  int W = a[0], H = a[1], sw = a[2], sh = a[3];
  int cx = a[4], cy = a[5], cwid = a[6], chei = a[7], dx = a[8], dy = a[9], dwid = a[10], dhei = a[11];
  if (W < 2 || H < 2 || sw < 2 || sh < 2 || dlen < i420_size(W, H) || slen < i420_size(sw, sh)) return fail(env, "a buffer is smaller than its I420 size");
  if (!even_rect_inside(cx, cy, cwid, chei, sw, sh)) return fail(env, "the crop must be even and inside the picture");
  if (!even_rect_inside(dx, dy, dwid, dhei, W, H)) return fail(env, "the tile must be even and inside the canvas");
  uint8_t *sp[3], *dp[3];
  int ss[3], ds[3];
  planes(src, sw, sh, cx, cy, sp, ss);
  planes(dst, W, H, dx, dy, dp, ds);
  if (cwid == dwid && chei == dhei) {
    for (int p = 0; p < 3; p++) {
      int rows = p ? chei / 2 : chei, bytes = p ? cwid / 2 : cwid;
      for (int r = 0; r < rows; r++) memcpy(dp[p] + (size_t)r * ds[p], sp[p] + (size_t)r * ss[p], bytes);
    }
    return NULL;
  }
  struct SwsContext *ctx = context_for(cwid, chei, dwid, dhei);
  if (!ctx) return fail(env, "libswscale could not make a context for this size");
  sws_scale(ctx, (const uint8_t *const *)sp, ss, 0, chei, dp, ds);
  return NULL;
}

// fill(canvas, canvasW, canvasH, y, u, v, x, yPos, w, h): one colour over an even rect.
static napi_value fill(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 10) return fail(env, "fill takes 10 arguments");
  uint8_t *dst;
  size_t dlen;
  int a[9];
  if (!get_buffer(env, argv[0], &dst, &dlen)) return fail(env, "canvas must be a Buffer");
  if (!get_ints(env, argv, 1, 9, a)) return fail(env, "sizes, colour and rect must be integers");
  int W = a[0], H = a[1], x = a[5], y = a[6], w = a[7], h = a[8];
  if (W < 2 || H < 2 || dlen < i420_size(W, H)) return fail(env, "the canvas is smaller than its I420 size");
  if (!even_rect_inside(x, y, w, h, W, H)) return fail(env, "the rect must be even and inside the canvas");
  uint8_t *dp[3];
  int ds[3];
  planes(dst, W, H, x, y, dp, ds);
  for (int p = 0; p < 3; p++) {
    int rows = p ? h / 2 : h, bytes = p ? w / 2 : w;
    for (int r = 0; r < rows; r++) memset(dp[p] + (size_t)r * ds[p], a[2 + p] & 255, bytes);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"draw", NULL, draw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fill", NULL, fill, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
