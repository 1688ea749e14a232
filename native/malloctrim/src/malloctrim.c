// Gives the server's freed malloc memory back to the kernel (glibc's malloc_trim), and says how
// much of the heap is free. glibc returns the main heap's memory only from its top: after a
// burst (ten publishers joining at once) one live allocation near the top keeps every free page
// below it resident, and RSS keeps the burst's high-water mark. malloc_trim(0) also releases the
// free pages inside the heaps (madvise MADV_DONTNEED), which nothing in Node calls.
// Single-threaded use: called from Node's main thread.

#define _GNU_SOURCE
#include <malloc.h>
#include <node_api.h>

// trim(): true when memory was released.
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) != 0, &out);
  return out;
}

static void set_number(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

// info(): { heapBytes, freeBytes, mmapBytes } from mallinfo2(): bytes the heaps (sbrk and
// thread arenas) hold from the kernel, of those the free ones, and bytes in mmapped blocks.
static napi_value info(napi_env env, napi_callback_info cbinfo) {
  (void)cbinfo;
  struct mallinfo2 m = mallinfo2();
  napi_value out;
  napi_create_object(env, &out);
  set_number(env, out, "heapBytes", (double)m.arena);
  set_number(env, out, "freeBytes", (double)m.fordblks);
  set_number(env, out, "mmapBytes", (double)m.hblkhd);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"trim", NULL, trim, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
