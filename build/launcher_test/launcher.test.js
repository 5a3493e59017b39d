'use strict';
// Tests of task/launcher.js and task/prejob.js: each test copies them into a temporary
// task folder with a fake "binary" (a shell script without the executable bit, as
// packaging leaves it) and runs them with the real node, the way the agent does.

const test = require('node:test');
const assert = require('node:assert');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const TASK = path.resolve(__dirname, '..', '..', 'task');
// A bug in signal handling would hang a test rather than fail it: bound every test.
const ANY = { timeout: 10000 };
const POSIX = { timeout: 10000, skip: process.platform === 'win32' ? 'shell-script fakes need a POSIX system' : false };
const GOOS = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[process.platform];
const GOARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch];

// makeTask builds a task folder for test context tc; script (if given) becomes the fake
// binary. The fake finds its marker folder in $GKV_MARK, which also shows that the
// environment passes through.
function makeTask(tc, script, prefix) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'gkv-launcher-'));
  const dir = path.join(root, 'task');
  const mark = path.join(root, 'mark');
  fs.mkdirSync(dir);
  fs.mkdirSync(mark);
  for (const f of ['launcher.js', 'prejob.js']) fs.copyFileSync(path.join(TASK, f), path.join(dir, f));
  const bin = path.join(dir, 'bin', GOOS + '_' + GOARCH, 'gokeyvault');
  if (script !== undefined) {
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    fs.writeFileSync(bin, '#!/bin/sh\n' + script, { mode: 0o644 });
    fs.chmodSync(bin, 0o644); // whatever the umask, start without the executable bit
  }
  tc.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return { tc, root, dir, mark, bin };
}

// start runs node on entry (a file of the task folder) from a separate working directory,
// with stdin closed like the agent does.
function start(t, entry, extraEnv) {
  const cwd = path.join(t.root, 'work');
  fs.mkdirSync(cwd, { recursive: true });
  const env = Object.assign({}, process.env, { GKV_MARK: t.mark }, extraEnv);
  const proc = childProcess.spawn(process.execPath, [path.join(t.dir, entry)], {
    cwd, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = [];
  const err = [];
  proc.stdout.on('data', (b) => out.push(b));
  proc.stderr.on('data', (b) => err.push(b));
  // A launcher that fails to pass a signal on would never exit: do not leave it behind.
  t.tc.after(() => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    proc.stdout.destroy(); // the fake binary shares them and may live on for a few seconds
    proc.stderr.destroy();
  });
  proc.done = new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({
      code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), cwd,
    }));
  });
  return proc;
}

// waitFile polls for a marker file written by the fake binary and returns its content.
async function waitFile(file, ms) {
  const deadline = Date.now() + (ms || 5000);
  for (;;) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + file);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const RECORD = 'printf "%s\\n" "$@" > "$GKV_MARK/args"; pwd > "$GKV_MARK/cwd"\n' +
  // Node's "pipe" is a socketpair on Unix; anything else (e.g. /dev/null) would give instant EOF.
  'if [ -S /dev/stdin ] || [ -p /dev/stdin ]; then echo pipe; else echo not a pipe; fi > "$GKV_MARK/stdin"\n';

for (const [entry, stage] of [['launcher.js', 'main'], ['prejob.js', 'prejob']]) {
  test(`${entry} starts the binary for stage ${stage}`, POSIX, async (tc) => {
    const t = makeTask(tc, RECORD);
    const r = await start(t, entry).done;
    assert.deepStrictEqual({ code: r.code, signal: r.signal, stdout: r.stdout.toString(), stderr: r.stderr },
      { code: 0, signal: null, stdout: '', stderr: '' });
    assert.strictEqual(fs.readFileSync(path.join(t.mark, 'args'), 'utf8'), `--stage\n${stage}\n--parent-pipe\n`);
    assert.strictEqual(fs.readFileSync(path.join(t.mark, 'cwd'), 'utf8'), fs.realpathSync(r.cwd) + '\n');
    assert.strictEqual(fs.readFileSync(path.join(t.mark, 'stdin'), 'utf8'), 'pipe\n');
  });
}

test('Go runtime settings do not reach the binary; everything else does', POSIX, async (tc) => {
  const t = makeTask(tc, 'env > "$GKV_MARK/env"\n');
  const r = await start(t, 'launcher.js', {
    GODEBUG: 'http2debug=2', godebug: 'http2debug=2', GOTRACEBACK: 'all', GOGC: 'off', GOMEMLIMIT: '1MiB', GOMAXPROCS: '1',
    GOPATH: '/kept', ENDPOINT_URL_X: 'https://management.azure.com/', GODEBUG_NOT: 'kept',
  }).done;
  assert.strictEqual(r.code, 0);
  const env = fs.readFileSync(path.join(t.mark, 'env'), 'utf8').split('\n');
  assert.deepStrictEqual(env.filter((l) => /^(GODEBUG|godebug|GOTRACEBACK|GOGC|GOMEMLIMIT|GOMAXPROCS)=/.test(l)), []);
  for (const kept of ['GOPATH=/kept', 'ENDPOINT_URL_X=https://management.azure.com/', 'GODEBUG_NOT=kept']) {
    assert.ok(env.includes(kept), kept);
  }
});

test('restores the executable bit', POSIX, async (tc) => {
  const t = makeTask(tc, 'exit 0\n');
  assert.strictEqual(fs.statSync(t.bin).mode & 0o777, 0o644);
  const r = await start(t, 'launcher.js').done;
  assert.strictEqual(r.code, 0);
  assert.strictEqual(fs.statSync(t.bin).mode & 0o777, 0o755);
});

// privateCopies lists the copies of the binary the launcher left in temp.
function privateCopies(temp) {
  return fs.readdirSync(temp).filter((n) => n.startsWith('gokeyvault-'));
}

test('read-only task folder: runs a checked private copy from Agent.TempDirectory, then removes it', POSIX, async (tc) => {
  const t = makeTask(tc, 'echo "$0" > "$GKV_MARK/self"\nexit 7\n');
  const temp = path.join(t.root, 'agent-temp');
  fs.mkdirSync(temp);
  const r = await start(t, 'launcher.js', {
    NODE_OPTIONS: '--require ' + path.join(__dirname, 'readonly-fs.js'), GKV_READONLY: t.dir, AGENT_TEMPDIRECTORY: temp,
  }).done;
  assert.deepStrictEqual([r.code, r.signal, r.stderr], [7, null, '']);
  const self = fs.readFileSync(path.join(t.mark, 'self'), 'utf8').trim();
  assert.match(self, new RegExp('^' + temp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '/gokeyvault-[^/]+/gokeyvault$'));
  assert.strictEqual(r.stdout.toString(), '##vso[task.debug]GoKeyVault: ' + t.bin +
    ' cannot be run where it is (its executable bit cannot be set: EROFS); running a private copy: ' + self + '\n');
  assert.deepStrictEqual(privateCopies(temp), []);
  assert.strictEqual(fs.statSync(t.bin).mode & 0o777, 0o644);
});

test('read-only task folder without Agent.TempDirectory: a clear failure', POSIX, async (tc) => {
  const t = makeTask(tc, 'exit 0\n');
  const reason = failureLines(await start(t, 'launcher.js', {
    NODE_OPTIONS: '--require ' + path.join(__dirname, 'readonly-fs.js'), GKV_READONLY: t.dir, AGENT_TEMPDIRECTORY: '',
  }).done);
  assert.strictEqual(reason, 'GoKeyVault cannot run ' + t.bin + ' where it is (its executable bit cannot be set: ' +
    'EROFS) and running a private copy failed: Agent.TempDirectory is not set');
});

test('noexec task folder: the exec fails with EACCES and a private copy runs', POSIX, async (tc) => {
  const t = makeTask(tc, 'echo "$0" > "$GKV_MARK/self"\n');
  const binDir = path.dirname(t.bin);
  // A real noexec mount where the machine allows one (root here); elsewhere this test says so.
  const mount = childProcess.spawnSync('mount', ['-t', 'tmpfs', '-o', 'noexec', 'tmpfs', binDir]);
  if (mount.status !== 0) {
    tc.skip('cannot mount a noexec tmpfs here: ' + String(mount.stderr).trim());
    return;
  }
  // Unmounted here: the task folder's own clean-up runs first among the after hooks.
  try {
    fs.writeFileSync(t.bin, '#!/bin/sh\necho "$0" > "$GKV_MARK/self"\n', { mode: 0o755 });
    const temp = path.join(t.root, 'agent-temp');
    fs.mkdirSync(temp);
    const r = await start(t, 'launcher.js', { AGENT_TEMPDIRECTORY: temp }).done;
    assert.deepStrictEqual([r.code, r.signal, r.stderr], [0, null, '']);
    const self = fs.readFileSync(path.join(t.mark, 'self'), 'utf8').trim();
    assert.ok(self.startsWith(temp + '/gokeyvault-'), self);
    assert.strictEqual(r.stdout.toString(), '##vso[task.debug]GoKeyVault: ' + t.bin +
      ' cannot be run where it is (its file system does not let it run (mounted noexec?)); running a private copy: ' + self + '\n');
    assert.deepStrictEqual(privateCopies(temp), []);
  } finally {
    childProcess.spawnSync('umount', [binDir]);
  }
});

test('propagates the exit code', POSIX, async (tc) => {
  const r = await start(makeTask(tc, 'exit 42\n'), 'launcher.js').done;
  assert.deepStrictEqual([r.code, r.signal], [42, null]);
});

test('exits 128+n when the binary dies from signal n', POSIX, async (tc) => {
  const r = await start(makeTask(tc, 'kill -TERM $$\nsleep 5\n'), 'launcher.js').done;
  assert.deepStrictEqual([r.code, r.signal], [128 + os.constants.signals.SIGTERM, null]);
});

test('passes the binary stdout and stderr through unchanged', POSIX, async (tc) => {
  // Logging commands, %, CR, a lone ## and bytes that are not UTF-8, with no final newline.
  const script = "printf '##vso[task.setvariable variable=a;issecret=true;]x%%3By\\r\\n%%AZP25 ]\\n\\377\\001end'\n" +
    "printf 'to stderr\\n' >&2\n";
  const r = await start(makeTask(tc, script), 'launcher.js').done;
  assert.strictEqual(r.code, 0);
  assert.deepStrictEqual(r.stdout, Buffer.concat([
    Buffer.from('##vso[task.setvariable variable=a;issecret=true;]x%3By\r\n%AZP25 ]\n'),
    Buffer.from([0xff, 0x01]), Buffer.from('end'),
  ]));
  assert.strictEqual(r.stderr, 'to stderr\n');
});

// failureLines checks the exact two-line failure report and returns its reason.
function failureLines(r) {
  assert.deepStrictEqual([r.code, r.signal, r.stderr], [0, null, '']);
  const m = /^##vso\[task\.logissue type=error;\]([^\n]+)\n##vso\[task\.complete result=Failed;\]([^\n]+)\n$/
    .exec(r.stdout.toString());
  assert.ok(m, 'not the two failure lines: ' + JSON.stringify(r.stdout.toString()));
  assert.strictEqual(m[1], m[2]);
  return m[1];
}

test('missing binary: task failure, exit 0', ANY, async (tc) => {
  const t = makeTask(tc, undefined);
  const reason = failureLines(await start(t, 'launcher.js').done);
  assert.ok(reason.includes('not found at ' + t.bin), reason);
});

test('binary that cannot be started: task failure, exit 0', POSIX, async (tc) => {
  const t = makeTask(tc, undefined);
  fs.mkdirSync(t.bin, { recursive: true }); // a directory: chmod works, exec fails with EACCES
  const reason = failureLines(await start(t, 'prejob.js').done);
  assert.ok(reason.startsWith('GoKeyVault could not start ' + t.bin + ': '), reason);
  assert.ok(reason.includes('EACCES'), reason);
  // A private copy is tried, and fails for want of Agent.TempDirectory.
  assert.ok(reason.endsWith('; running a private copy failed too: Agent.TempDirectory is not set'), reason);
});

test('failure reason is escaped for the agent', POSIX, async (tc) => {
  // The reason quotes the path; give the path a %, a CR, a LF and a ##vso.
  const t = makeTask(tc, undefined, 'gkv%\r\n##vso[x]-');
  const reason = failureLines(await start(t, 'launcher.js').done);
  const want = t.bin.replace(/%/g, '%AZP25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/##vso/g, '**vso');
  assert.ok(reason.includes('not found at ' + want + ';'), reason);
});

test('requiring the launcher does not run it', ANY, async (tc) => {
  const t = makeTask(tc, undefined);
  const proc = childProcess.spawnSync(process.execPath,
    ['-e', 'const l = require(process.argv[1]); console.log(Object.keys(l).sort().join(","))', path.join(t.dir, 'launcher.js')],
    { encoding: 'utf8' });
  assert.deepStrictEqual([proc.status, proc.stdout, proc.stderr], [0, 'binaryPath,checkCopy,privateCopy,run\n', '']);
});

test('binaryPath maps Node platforms to Go targets', () => {
  const { binaryPath } = require(path.join(TASK, 'launcher.js'));
  const dir = path.join('opt', 'task');
  const cases = [
    ['linux', 'x64', {}, 'linux_amd64', 'gokeyvault'],
    ['linux', 'arm64', {}, 'linux_arm64', 'gokeyvault'],
    ['linux', 'arm', {}, 'linux_arm', 'gokeyvault'],
    ['darwin', 'x64', {}, 'darwin_amd64', 'gokeyvault'],
    ['darwin', 'arm64', {}, 'darwin_arm64', 'gokeyvault'],
    ['win32', 'x64', {}, 'windows_amd64', 'gokeyvault.exe'],
    ['win32', 'arm64', {}, 'windows_arm64', 'gokeyvault.exe'],
    // The agent's win-x86 package on 64-bit Windows: node runs under WOW64.
    ['win32', 'ia32', { PROCESSOR_ARCHITEW6432: 'AMD64' }, 'windows_amd64', 'gokeyvault.exe'],
    ['win32', 'ia32', { PROCESSOR_ARCHITEW6432: 'ARM64' }, 'windows_arm64', 'gokeyvault.exe'],
  ];
  for (const [platform, arch, env, target, name] of cases) {
    assert.strictEqual(binaryPath(platform, arch, dir, env), path.join(dir, 'bin', target, name), `${platform}/${arch}`);
  }
  const unsupported = [
    ['linux', 'ia32', {}], ['linux', 's390x', {}], ['win32', 'ia32', {}], ['win32', 'ia32', { PROCESSOR_ARCHITEW6432: 'IA64' }],
    ['linux', 'ia32', { PROCESSOR_ARCHITEW6432: 'AMD64' }], ['freebsd', 'x64', {}], ['aix', 'ppc64', {}], ['sunos', 'x64', {}],
    ['constructor', 'x64', {}], ['linux', 'toString', {}], ['', '', {}],
  ];
  for (const [platform, arch, env] of unsupported) {
    assert.throws(() => binaryPath(platform, arch, dir, env), (err) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, new RegExp('^GoKeyVault does not support agents on ' + platform + '/' + arch + '; it runs on Linux agents \\(x64, arm64, 32-bit arm\\)'));
      assert.doesNotMatch(err.message, /[\r\n]/);
      return true;
    }, `${platform}/${arch}`);
  }
});

// A fake binary that traps the signal, records it and exits 3. It idles in short
// foreground sleeps because the shell runs a trap once the current command ends: a
// background `sleep & wait` would be quicker but, under load, a signal forwarded to the
// background child before it has exec'd is lost and the child then outlives the test.
const TRAP = [
  'trap \'echo INT > "$GKV_MARK/signal"; exit 3\' INT',
  'trap \'echo TERM > "$GKV_MARK/signal"; exit 3\' TERM',
  'echo ready > "$GKV_MARK/ready"',
  // Bounded, so that a fake whose signal is never passed on does not outlive the tests.
  'i=0; while [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done',
  '',
].join('\n');

for (const sig of ['SIGINT', 'SIGTERM']) {
  test(`forwards ${sig} to the binary and waits for it`, POSIX, async (tc) => {
    const t = makeTask(tc, TRAP);
    const proc = start(t, 'launcher.js');
    await waitFile(path.join(t.mark, 'ready'));
    proc.kill(sig);
    const r = await proc.done;
    assert.deepStrictEqual([r.code, r.signal], [3, null]);
    assert.strictEqual(fs.readFileSync(path.join(t.mark, 'signal'), 'utf8'), sig.slice(3) + '\n');
  });
}

test('the binary sees EOF on stdin when node is killed', POSIX, async (tc) => {
  const t = makeTask(tc, 'echo ready > "$GKV_MARK/ready"\ncat > /dev/null\necho eof > "$GKV_MARK/eof"\n');
  const proc = start(t, 'launcher.js');
  await waitFile(path.join(t.mark, 'ready'));
  assert.throws(() => fs.readFileSync(path.join(t.mark, 'eof')), { code: 'ENOENT' });
  proc.kill('SIGKILL');
  const r = await proc.done; // 'close' also needs the binary gone: it shares node's stdout
  assert.deepStrictEqual([r.code, r.signal], [null, 'SIGKILL']);
  assert.strictEqual(await waitFile(path.join(t.mark, 'eof')), 'eof\n');
});

// ---- the private copy's temporary directory (a read-only or noexec task folder)

const IS_ROOT = process.platform !== 'win32' && process.getuid() === 0;
const NOBODY = 65534;

// readOnlyEnv makes the task folder of t read-only (chmod fails with EROFS) and gives it
// temp as Agent.TempDirectory.
function readOnlyEnv(t, temp) {
  return { NODE_OPTIONS: '--require ' + path.join(__dirname, 'readonly-fs.js'), GKV_READONLY: t.dir, AGENT_TEMPDIRECTORY: temp };
}

test('a temporary directory others may write to without the sticky bit: refused, nothing copied or run', POSIX, async (tc) => {
  const t = makeTask(tc, 'echo ran > "$GKV_MARK/ran"\n');
  const temp = path.join(t.root, 'agent-temp');
  fs.mkdirSync(temp);
  fs.chmodSync(temp, 0o777);
  const reason = failureLines(await start(t, 'launcher.js', readOnlyEnv(t, temp)).done);
  assert.strictEqual(reason, 'GoKeyVault cannot run ' + t.bin + ' where it is (its executable bit cannot be set: EROFS) ' +
    'and running a private copy failed: Agent.TempDirectory (' + temp + ') has mode 0777: other users may write to it, ' +
    'and without the sticky bit they may rename what is in it, so another user could replace the private copy of the ' +
    'binary before it starts; nothing was copied or run. Make it the agent user\'s own (chown it to uid ' +
    process.getuid() + ' and chmod 0700 it) or, if others must share it, give it the sticky bit (chmod +t)');
  assert.deepStrictEqual(fs.readdirSync(temp), []);
  assert.deepStrictEqual(fs.readdirSync(t.mark), []);
});

test('a temporary directory of another user: refused', { timeout: 10000, skip: IS_ROOT ? false : 'needs root to give a directory away' }, async (tc) => {
  const t = makeTask(tc, 'echo ran > "$GKV_MARK/ran"\n');
  const temp = path.join(t.root, 'agent-temp');
  fs.mkdirSync(temp, { mode: 0o700 });
  fs.chownSync(temp, NOBODY, NOBODY);
  const reason = failureLines(await start(t, 'launcher.js', readOnlyEnv(t, temp)).done);
  assert.ok(reason.includes('Agent.TempDirectory (' + temp + ') is owned by uid ' + NOBODY + ', not by the agent\'s user (uid 0), ' +
    'so another user could replace the private copy'), reason);
  assert.deepStrictEqual(fs.readdirSync(temp), []);
  assert.deepStrictEqual(fs.readdirSync(t.mark), []);
});

test('a shared temporary directory with the sticky bit: the copy runs', POSIX, async (tc) => {
  const t = makeTask(tc, 'echo "$0" > "$GKV_MARK/self"\n');
  const temp = path.join(t.root, 'agent-temp');
  fs.mkdirSync(temp);
  fs.chmodSync(temp, 0o1777);
  const r = await start(t, 'launcher.js', readOnlyEnv(t, temp)).done;
  assert.deepStrictEqual([r.code, r.signal, r.stderr], [0, null, '']);
  assert.ok(fs.readFileSync(path.join(t.mark, 'self'), 'utf8').startsWith(temp + '/gokeyvault-'));
  assert.deepStrictEqual(privateCopies(temp), []);
});

// checkCopy, called as the launcher calls it just before the start, in a node of its own
// (privateCopy writes its debug line to stdout): after each way of replacing what
// privateCopy made, it refuses; untouched, it accepts.
test('checkCopy refuses a private copy replaced after it was made', POSIX, async (tc) => {
  const t = makeTask(tc, 'exit 0\n');
  const temp = path.join(t.root, 'agent-temp');
  fs.mkdirSync(temp, { mode: 0o700 });
  const script = `
    const fs = require('fs'); const path = require('path');
    const l = require(process.argv[1]);
    const c = l.privateCopy(process.argv[2], 'test');
    const swap = process.argv[3];
    if (swap === 'folder') { fs.renameSync(c.dir, c.dir + '.old'); fs.mkdirSync(c.dir, 0o700); fs.copyFileSync(c.dir + '.old/gokeyvault', c.file); }
    if (swap === 'file') { fs.unlinkSync(c.file); fs.writeFileSync(c.file, 'other', { mode: 0o700 }); }
    if (swap === 'link') { fs.renameSync(c.file, c.file + '.real'); fs.symlinkSync(c.file + '.real', c.file); }
    if (swap === 'mode') { fs.chmodSync(c.file, 0o722); }
    if (swap === 'hardlink') { fs.linkSync(c.file, c.dir + '/other'); }
    try { l.checkCopy(c); console.log('accepted'); } catch (e) { console.log(e.message.replace(c.file, 'COPY')); }
  `;
  for (const [swap, want] of [['none', 'accepted'], ['folder', 'refused'], ['file', 'refused'], ['link', 'refused'], ['mode', 'refused'], ['hardlink', 'refused']]) {
    const r = childProcess.spawnSync(process.execPath, ['-e', script, path.join(t.dir, 'launcher.js'), t.bin, swap],
      { env: Object.assign({}, process.env, { AGENT_TEMPDIRECTORY: temp }), encoding: 'utf8' });
    const got = r.stdout.split('\n').filter((l) => !l.startsWith('##vso[task.debug]')).join('\n').trim();
    const expect = want === 'accepted' ? 'accepted' : 'the private copy COPY was replaced or changed after it was made; nothing was run';
    assert.deepStrictEqual([swap, r.status, got, r.stderr], [swap, 0, expect, '']);
  }
});

// An attacker of another user (swapper.js) who watches Agent.TempDirectory and, as soon as
// the private folder appears, renames it and puts a folder of its own with its own
// gokeyvault in its place. The fake binary is large, as the real one is, so that checking the copy takes a
// while: the moment the old launcher left the attacker between its check and the start.
// In a temporary directory others may write to without the sticky bit the launcher
// refuses to make a copy at all; with the sticky bit the attacker cannot rename the
// folder. Either way the attacker's file never runs.
test('an attacker of another user swapping the private folder never gets its file run', { timeout: 60000, skip: IS_ROOT ? false : 'needs root to run an attacker as another user' }, async (tc) => {
  const padding = '#' + 'x'.repeat(1 << 20) + '\n';
  const t = makeTask(tc, 'echo real >> "$GKV_MARK/ran"\n' + padding.repeat(24));
  fs.chmodSync(t.root, 0o755);
  fs.chmodSync(t.mark, 0o777);
  for (const mode of [0o777, 0o1777]) {
    const temp = path.join(t.root, 'agent-temp-' + mode.toString(8));
    fs.mkdirSync(temp);
    fs.chmodSync(temp, mode);
    const a = childProcess.spawn(process.execPath, [path.join(__dirname, 'swapper.js'), temp, t.mark], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
    tc.after(() => a.kill('SIGKILL'));
    for (let i = 0; i < 5; i++) {
      const r = await start(t, 'launcher.js', readOnlyEnv(t, temp)).done;
      if (mode === 0o777) {
        assert.match(failureLines(r), /has mode 0777: other users may write to it/);
      } else {
        assert.deepStrictEqual([r.code, r.signal, r.stderr], [0, null, '']);
      }
    }
    a.kill('SIGKILL');
    const ran = fs.existsSync(path.join(t.mark, 'ran')) ? fs.readFileSync(path.join(t.mark, 'ran'), 'utf8') : '';
    assert.strictEqual(ran, mode === 0o777 ? '' : 'real\n'.repeat(5), 'runs in a ' + mode.toString(8) + ' temporary directory');
    fs.rmSync(path.join(t.mark, 'ran'), { force: true });
  }
  // It did try when a private folder appeared (never in the 0777 one: none was made), and
  // the sticky bit stopped it (a folder the run removed before the attacker came to it is
  // ENOENT).
  const tries = fs.readFileSync(path.join(t.mark, 'tries'), 'utf8');
  assert.ok(!tries.includes('swapped') && tries.includes('EPERM'), tries);
});
