"""Request and response codecs: KServe v1 and the Open Inference Protocol (v2)."""
