{
  "targets": [
    {
      "target_name": "malloctrim",
      "sources": ["src/malloctrim.c"],
      "cflags": ["-O2", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
