{
  "targets": [
    {
      "target_name": "posixspawn",
      "sources": ["src/posixspawn.c"],
      "cflags": ["-O2", "-std=gnu11", "-pthread"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpthread"]
    }
  ]
}
