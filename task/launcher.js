'use strict';
// GoKeyVault launcher. The agent can only start Node handlers, so this file starts the
// Go binary that does all the work. It must run on every Node the agent may pick
// (Node 10 to 24) without dependencies: no `??`, `?.`, `node:` requires or ES modules.

var childProcess = require('child_process');
var fs = require('fs');
var os = require('os');
var path = require('path');

var GOOS = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
// The binaries the extension ships, by Node's platform and arch (build/package's platforms() is
// the list; its TestPlatformLists checks this table against it).
var TARGETS = {
  linux: { x64: 'amd64', arm64: 'arm64', arm: 'arm' },
  darwin: { x64: 'amd64', arm64: 'arm64' },
  win32: { x64: 'amd64', arm64: 'arm64' }
};

function has(table, key) {
  // Not `key in table`: "constructor" or "toString" must not look supported.
  return Object.prototype.hasOwnProperty.call(table, key);
}

// nativeArch is the processor the OS runs on: an x86 node on 64-bit Windows (the agent's
// win-x86 package) runs under WOW64, which says what the machine is.
function nativeArch(platform, arch, env) {
  if (platform !== 'win32' || arch !== 'ia32') return arch;
  var machine = String((env && env.PROCESSOR_ARCHITEW6432) || '').toUpperCase();
  if (machine === 'AMD64') return 'x64';
  if (machine === 'ARM64') return 'arm64';
  return arch;
}

// binaryPath returns where the binary for platform/arch (Node's names) lives under dir,
// or throws an Error whose message is a one-line reason for the user.
function binaryPath(platform, arch, dir, env) {
  arch = nativeArch(platform, arch, env);
  if (!has(TARGETS, platform) || !has(TARGETS[platform], arch)) {
    throw new Error('GoKeyVault does not support agents on ' + platform + '/' + arch +
      '; it runs on Linux agents (x64, arm64, 32-bit arm), macOS agents (x64, arm64) and ' +
      'Windows agents (x64, arm64, and x86 agents on 64-bit Windows).');
  }
  var goos = GOOS[platform];
  var name = goos === 'windows' ? 'gokeyvault.exe' : 'gokeyvault';
  return path.join(dir, 'bin', goos + '_' + TARGETS[platform][arch], name);
}

// Go runtime settings are not passed to the binary: it runs with Go's defaults whatever the
// agent's environment or a pipeline variable says. GODEBUG=http2debug=2 alone would make Go's
// HTTP/2 client log every request header, bearer tokens included; GOTRACEBACK changes what a
// crash prints.
var GO_RUNTIME_SETTINGS = ['GODEBUG', 'GOTRACEBACK', 'GOGC', 'GOMEMLIMIT', 'GOMAXPROCS'];

// childEnv is env without the Go runtime settings, compared without case as Windows does.
function childEnv(env) {
  var out = {};
  Object.keys(env).forEach(function (k) {
    if (GO_RUNTIME_SETTINGS.indexOf(k.toUpperCase()) < 0) out[k] = env[k];
  });
  return out;
}

// escapeData escapes a logging command's data the way the agent unescapes it, and
// neutralises "##vso" so that text such as a path cannot start a second command.
function escapeData(text) {
  return String(text)
    .replace(/%/g, '%AZP25')
    .replace(/\r/g, '%0D')
    .replace(/\n/g, '%0A')
    .replace(/##vso/gi, '**vso');
}

// fail reports a task failure. Exit code 0 on purpose: a non-zero code would be shown
// as an infrastructure failure ("Exit code N returned") on top of our own message.
function fail(reason) {
  var data = escapeData(reason);
  process.stdout.write('##vso[task.logissue type=error;]' + data + '\n');
  process.stdout.write('##vso[task.complete result=Failed;]' + data + '\n');
  // exitCode rather than process.exit(): stdout may be an asynchronous pipe still flushing.
  process.exitCode = 0;
}

// makeExecutable restores the executable bit, which packaging a task into a .vsix and the
// agent unpacking it lose. It returns why the binary cannot be run where it is, or '' when
// it can.
function makeExecutable(file) {
  if (process.platform === 'win32') return '';
  var chmodError = null;
  try {
    fs.chmodSync(file, 493); // 0o755
  } catch (err) {
    // A container job may mount the task folder read-only (EROFS): fine if the bit is there.
    chmodError = err;
  }
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return '';
  } catch (err) {
    if (chmodError) return 'its executable bit cannot be set: ' + (chmodError.code || chmodError.message);
    return 'its file system does not let it run (mounted noexec?)';
  }
}

// octal renders a file mode for a message, e.g. 0777 or 1777.
function octal(mode) {
  return ('0000' + (mode & 4095).toString(8)).slice(-4);
}

// checkTemp refuses a temporary directory in which another user could replace the private
// copy between the moment it is made and the moment it starts: one that is not the agent
// user's own (or root's), or that others may write to without the sticky bit (which keeps
// them from renaming what is not theirs). On Windows a folder has no such mode: its access
// control list, which the agent sets up, decides.
function checkTemp(temp) {
  var st = fs.statSync(temp);
  if (!st.isDirectory()) throw new Error('Agent.TempDirectory (' + temp + ') is not a directory');
  if (process.platform === 'win32') return;
  var uid = process.getuid();
  var problem = '';
  if (st.uid !== uid && st.uid !== 0) {
    problem = 'is owned by uid ' + st.uid + ', not by the agent\'s user (uid ' + uid + ')';
  } else if ((st.mode & 18) !== 0 && (st.mode & 512) === 0) { // 0o022, 0o1000
    problem = 'has mode ' + octal(st.mode) + ': other users may write to it, and without the sticky bit they may ' +
      'rename what is in it';
  }
  if (problem) {
    throw new Error('Agent.TempDirectory (' + temp + ') ' + problem + ', so another user could replace the ' +
      'private copy of the binary before it starts; nothing was copied or run. Make it the agent user\'s own ' +
      '(chown it to uid ' + uid + ' and chmod 0700 it) or, if others must share it, give it the sticky bit (chmod +t)');
  }
}

// sameEntry reports whether st is still the entry made as want (device and inode; for a
// file, whose inode a new file may reuse once it is deleted, also its size and the time of
// its last change), of the expected type, the agent user's, and writable by no one else.
function sameEntry(st, want, isDir) {
  return st.dev === want.dev && st.ino === want.ino && (isDir ? st.isDirectory() :
    st.isFile() && st.size === want.size && st.ctimeMs === want.ctimeMs) &&
    (process.platform === 'win32' || (st.uid === process.getuid() && (st.mode & (isDir ? 63 : 18)) === 0));
}

// privateCopy copies the binary into a folder of its own under Agent.TempDirectory (which
// the agent empties after every job), checks that the copy is the binary byte for byte,
// and returns it. For a task folder that is read-only or mounted noexec. The folder is made
// exclusively with mode 0700 and the file created exclusively without following a link;
// checkCopy then makes sure, just before the start, that both are still what was made.
function privateCopy(file, why) {
  var temp = process.env.AGENT_TEMPDIRECTORY;
  if (!temp) throw new Error('Agent.TempDirectory is not set');
  checkTemp(temp);
  var dir = fs.mkdtempSync(path.join(temp, 'gokeyvault-'));
  fs.chmodSync(dir, 448); // 0o700 whatever the umask
  var dirStat = fs.lstatSync(dir);
  if (!sameEntry(dirStat, dirStat, true)) throw new Error('the private folder ' + dir + ' is not the agent user\'s alone');
  var copy = path.join(dir, path.basename(file));
  var bytes = fs.readFileSync(file);
  var nofollow = process.platform === 'win32' ? 0 : fs.constants.O_NOFOLLOW;
  var fd = fs.openSync(copy, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | nofollow, 448);
  var fileStat;
  try {
    for (var off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    if (process.platform !== 'win32') fs.fchmodSync(fd, 448);
    fileStat = fs.fstatSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  var c = { file: copy, dir: dir, dirStat: dirStat, fileStat: fileStat };
  fd = fs.openSync(copy, fs.constants.O_RDONLY | nofollow);
  try {
    if (!sameEntry(fs.fstatSync(fd), fileStat, false) || !readAll(fd, bytes.length + 1).equals(bytes)) {
      throw new Error('GoKeyVault could not copy ' + file + ' to ' + copy + ' intact');
    }
  } finally {
    fs.closeSync(fd);
  }
  process.stdout.write('##vso[task.debug]' + escapeData('GoKeyVault: ' + file + ' cannot be run where it is (' +
    why + '); running a private copy: ' + copy) + '\n');
  return c;
}

// readAll reads up to max bytes from fd.
function readAll(fd, max) {
  var buf = Buffer.alloc(max);
  var n = 0;
  for (var got = -1; got !== 0 && n < max; n += got) got = fs.readSync(fd, buf, n, max - n, null);
  return buf.slice(0, n);
}

// checkCopy, immediately before the start, makes sure that the private folder and the copy
// in it are still the entries privateCopy made: nothing replaced them in between.
function checkCopy(c) {
  var dirNow = fs.lstatSync(c.dir);
  var fileNow = fs.lstatSync(c.file);
  if (!sameEntry(dirNow, c.dirStat, true) || !sameEntry(fileNow, c.fileStat, false) || fileNow.nlink !== 1) {
    throw new Error('the private copy ' + c.file + ' was replaced or changed after it was made; nothing was run');
  }
}

function run(stage) {
  var file;
  try {
    file = binaryPath(process.platform, process.arch, __dirname, process.env);
  } catch (err) {
    return fail(err.message);
  }
  if (!fs.existsSync(file)) {
    return fail('GoKeyVault binary not found at ' + file +
      '; the extension package is incomplete: reinstall or update the GoKeyVault extension.');
  }
  var copy = null;
  var why = makeExecutable(file);
  try {
    if (why) copy = privateCopy(file, why);
  } catch (err) {
    return fail('GoKeyVault cannot run ' + file + ' where it is (' + why + ') and running a private copy failed: ' +
      err.message);
  }
  start(stage, copy ? copy.file : file, copy, function (err) {
    // A noexec mount: the bit is there but the OS refuses to run it.
    if (copy || err.code !== 'EACCES') return false;
    try {
      copy = privateCopy(file, err.code);
    } catch (copyErr) {
      fail('GoKeyVault could not start ' + file + ': ' + err.message +
        '; running a private copy failed too: ' + copyErr.message);
      return true;
    }
    start(stage, copy.file, copy, null, cleanup);
    return true;
  }, cleanup);

  function cleanup() {
    if (!copy) return;
    try {
      fs.unlinkSync(copy.file);
      fs.rmdirSync(copy.dir);
    } catch (err) {
      // The agent empties its temp directory after the job anyway.
    }
  }
}

// start runs the binary for stage: file, or copy (privateCopy's) when given. retry, if given,
// may start it another way after a spawn error (it returns true when it took the error
// over); done runs before node exits.
function start(stage, file, copy, retry, done) {
  var child;
  var spawnFailed = false;
  function spawnError(err) {
    spawnFailed = true;
    if (child && child.stdin) child.stdin.destroy();
    if (retry && retry(err)) return;
    done();
    fail('GoKeyVault could not start ' + file + ': ' + err.message);
  }

  // The agent cancels by signalling node only (SIGINT, then SIGTERM, then SIGKILL): pass
  // them on and keep waiting, so that the binary can finish cleanly and report.
  // Installed before the spawn so that no signal finds node with its default action.
  ['SIGINT', 'SIGTERM', 'SIGHUP'].forEach(function (sig) {
    if (!has(os.constants.signals, sig)) return;
    process.on(sig, function () {
      // On Windows kill() terminates the child outright, and console Ctrl+C already
      // reaches it directly: only keep node alive there.
      if (process.platform === 'win32' || !child || spawnFailed) return;
      try {
        child.kill(sig);
      } catch (err) {
        // The child is already gone: its 'exit' event ends node.
      }
    });
  });

  try {
    if (copy) checkCopy(copy);
  } catch (err) {
    done();
    return fail('GoKeyVault did not start ' + file + ': ' + err.message);
  }
  try {
    // stdin is a lifeline, never written or ended: when node dies for any reason
    // (even SIGKILL) the OS closes it and the binary, told by --parent-pipe, sees EOF
    // and exits instead of lingering with the agent's log pipe open.
    child = childProcess.spawn(file, ['--stage', stage, '--parent-pipe'], {
      env: childEnv(process.env),
      stdio: ['pipe', 'inherit', 'inherit'],
      windowsHide: true
    });
  } catch (err) {
    return spawnError(err); // Node throws synchronously for some spawn errors (EINVAL...)
  }
  // Never written to, but an unhandled 'error' (EPIPE...) would crash node.
  child.stdin.on('error', function () {});
  child.on('error', function (err) {
    // ENOENT, EACCES... come asynchronously; errors of a later kill() are not spawn failures.
    if (/^spawn/.test(err.syscall || '') && !spawnFailed) spawnError(err);
  });
  child.on('exit', function (code, signal) {
    if (spawnFailed) return;
    done();
    if (signal) {
      process.exit(128 + (os.constants.signals[signal] || 0));
    }
    process.exit(code);
  });
}

module.exports = { binaryPath: binaryPath, run: run, privateCopy: privateCopy, checkCopy: checkCopy };

if (require.main === module) {
  run('main');
}
