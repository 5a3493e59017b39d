'use strict';
// GoKeyVault launcher. The agent can only start Node handlers, so this file starts the
// Go binary that does all the work. It must run on every Node the agent may pick
// (Node 10 to 24) without dependencies: no `??`, `?.`, `node:` requires or ES modules.

var childProcess = require('child_process');
var fs = require('fs');
var os = require('os');
var path = require('path');

var GOOS = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
// The binaries the extension ships, by Node's platform and arch.
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

// privateCopy copies the binary into a folder of its own under Agent.TempDirectory (which
// the agent empties after every job), checks that the copy is the binary byte for byte,
// and returns its path. For a task folder that is read-only or mounted noexec.
function privateCopy(file, why) {
  var temp = process.env.AGENT_TEMPDIRECTORY;
  if (!temp) throw new Error('Agent.TempDirectory is not set');
  var dir = fs.mkdtempSync(path.join(temp, 'gokeyvault-'));
  var copy = path.join(dir, path.basename(file));
  fs.copyFileSync(file, copy);
  fs.chmodSync(copy, 448); // 0o700
  if (!fs.readFileSync(copy).equals(fs.readFileSync(file))) {
    throw new Error('GoKeyVault could not copy ' + file + ' to ' + copy + ' intact');
  }
  process.stdout.write('##vso[task.debug]' + escapeData('GoKeyVault: ' + file + ' cannot be run where it is (' +
    why + '); running a private copy: ' + copy) + '\n');
  return { file: copy, dir: dir };
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
  start(stage, copy ? copy.file : file, function (err) {
    // A noexec mount: the bit is there but the OS refuses to run it.
    if (copy || err.code !== 'EACCES') return false;
    try {
      copy = privateCopy(file, err.code);
    } catch (copyErr) {
      fail('GoKeyVault could not start ' + file + ': ' + err.message +
        '; running a private copy failed too: ' + copyErr.message);
      return true;
    }
    start(stage, copy.file, null, cleanup);
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

// start runs the binary for stage. retry, if given, may start it another way after a spawn
// error (it returns true when it took the error over); done runs before node exits.
function start(stage, file, retry, done) {
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

module.exports = { binaryPath: binaryPath, run: run };

if (require.main === module) {
  run('main');
}
