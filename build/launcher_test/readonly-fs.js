'use strict';
// Preloaded with NODE_OPTIONS=--require: makes chmod fail with EROFS under $GKV_READONLY, as
// it does in a container job that mounts the tasks folder read-only. Everything else (the
// exec that then fails with EACCES, the copy, the run) is real.
const fs = require('fs');
const path = require('path');
const chmodSync = fs.chmodSync;
fs.chmodSync = function (file, mode) {
  const ro = process.env.GKV_READONLY;
  if (ro && path.resolve(String(file)).startsWith(path.resolve(ro) + path.sep)) {
    const err = new Error("EROFS: read-only file system, chmod '" + file + "'");
    err.code = 'EROFS';
    err.syscall = 'chmod';
    throw err;
  }
  return chmodSync.apply(this, arguments);
};
