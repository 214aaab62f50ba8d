"""Loads a generated gunicorn settings file the way gunicorn does (exec of the file,
then Config.set for each name) without loading the application, and prints the
resolved settings as JSON. Unlike gunicorn, which skips names it does not know, a
public name that is not a gunicorn setting is an error here (a typo would otherwise
be ignored silently). Used by tests/scripts.rs with the test venv's gunicorn."""

import json
import sys
import types

from gunicorn.config import Config

path = sys.argv[1]
namespace = {"__file__": path, "__name__": "__config__"}
with open(path, encoding="utf-8") as f:
    exec(compile(f.read(), path, "exec"), namespace)

cfg = Config()
chdir = None
unknown = []
for name, value in namespace.items():
    if name.startswith("_") or isinstance(value, types.ModuleType):
        continue
    if name not in cfg.settings:
        unknown.append(name)
        continue
    if name == "chdir":
        # gunicorn's validator changes into the directory, which exists only on
        # the target host: check the type and keep the value.
        if not (isinstance(value, str) and value.startswith("/")):
            sys.exit(f"{path}: chdir must be an absolute path, got {value!r}")
        chdir = value
        continue
    cfg.set(name, value)  # gunicorn's own validator: raises on a wrong type
if unknown:
    sys.exit(f"{path}: not gunicorn settings: {', '.join(sorted(unknown))}")

out = {
    name: getattr(cfg, name)
    for name in ("bind", "workers", "timeout", "umask", "raw_env", "wsgi_app",
                 "backlog", "certfile", "keyfile", "accesslog", "errorlog")
}
out["chdir"] = chdir
out["pythonpath"] = cfg.settings["pythonpath"].get()
out["when_ready_is_ours"] = cfg.when_ready.__module__ != "gunicorn.config"
print(json.dumps(out))
