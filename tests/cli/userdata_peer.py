"""Reads a user-data bundle the way its real consumers do and prints what they see.

usage: userdata_peer.py email|cloud-init BUNDLE
       userdata_peer.py handlers BUNDLE HANDLER_DIR

- email: Python's own MIME parser (after gunzip when the bundle is compressed);
- cloud-init: cloud-init's UserDataProcessor, as on a booting server;
- handlers: cloud-init's part walker with its handler calling convention
  (part handlers registered from the bundle, __begin__ / parts / __end__).
Prints a JSON list of {type, filename, body (base64), merge} per part.
"""
import base64
import email
import gzip
import json
import sys
import tempfile


def describe(msg):
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            continue
        parts.append({
            "type": part.get_content_type(),
            "filename": part.get_filename(),
            "body": base64.b64encode(part.get_payload(decode=True) or b"").decode(),
            "merge": part.get("X-Merge-Type"),
        })
    return parts


def cloud_init_message(raw):
    from cloudinit import helpers
    from cloudinit.user_data import UserDataProcessor
    state = tempfile.mkdtemp()
    paths = helpers.Paths({"cloud_dir": state, "run_dir": state})
    return UserDataProcessor(paths).process(raw)


def main():
    mode, bundle = sys.argv[1], sys.argv[2]
    with open(bundle, "rb") as f:
        raw = f.read()
    if mode == "email":
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        print(json.dumps(describe(email.message_from_bytes(raw))))
    elif mode == "cloud-init":
        print(json.dumps(describe(cloud_init_message(raw))))
    elif mode == "handlers":
        from cloudinit import handlers, helpers
        from cloudinit.settings import PER_INSTANCE
        handler_dir = sys.argv[3]
        sys.path.insert(0, handler_dir)
        registered = helpers.ContentHandlers()
        data = {"handlers": registered, "handlerdir": handler_dir, "data": None,
                "frequency": PER_INSTANCE, "handlercount": 0, "excluded": []}
        try:
            handlers.walk(cloud_init_message(raw), handlers.walker_callback, data=data)
        finally:
            for _ctype, mod in registered.items():
                if mod in registered.initialized:
                    registered.initialized.remove(mod)
                    handlers.call_end(mod, None, PER_INSTANCE)
        print(json.dumps({"handlers": data["handlercount"]}))
    else:
        sys.exit("unknown mode " + mode)


main()
