{
  "targets": [
    {
      "target_name": "opus",
      "sources": ["src/opus_addon.c"],
      "cflags": ["-O2", "-std=c11"],
      "defines": ["NAPI_VERSION=8"],
      "include_dirs": ["/usr/include/opus"],
      "libraries": ["-lopus"]
    }
  ]
}
