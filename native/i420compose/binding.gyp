{
  "targets": [
    {
      "target_name": "i420compose",
      "sources": ["src/i420compose.c"],
      "cflags": ["-O2", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lswscale", "-lavutil"]
    }
  ]
}
