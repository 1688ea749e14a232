{
  "targets": [
    {
      "target_name": "srtpfan",
      "sources": ["src/srtpfan.c"],
      "cflags": ["-O2", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lsrtp2"]
    }
  ]
}
