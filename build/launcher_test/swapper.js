'use strict';
// An attacker of another user, for the tests of the launcher's private copy: run as
// `node swapper.js TEMP MARK` under another uid. It watches TEMP and, a few milliseconds
// after a gokeyvault- folder appears (it cannot look inside: the folder is 0700), renames
// it and puts a folder of its own in its place, with its own gokeyvault, which appends
// "attacker" to MARK/ran if it is ever run. Each try is a line in MARK/tries: "swapped" or
// the error that stopped it (EPERM: the sticky bit).
const fs = require('fs');
const path = require('path');

const temp = process.argv[2];
const mark = process.argv[3];
const seen = new Map();
for (const end = Date.now() + 120000; Date.now() < end;) {
  let names = [];
  try {
    names = fs.readdirSync(temp);
  } catch (e) {
    // Not made yet.
  }
  for (const n of names) {
    if (!n.startsWith('gokeyvault-') || n.endsWith('.old')) continue;
    if (!seen.has(n)) seen.set(n, Date.now() + [2, 5, 10, 20, 30, 40][seen.size % 6]);
    if (seen.get(n) === 0 || Date.now() < seen.get(n)) continue;
    seen.set(n, 0);
    const dir = path.join(temp, n);
    let result = 'swapped';
    try {
      fs.renameSync(dir, dir + '.old');
      fs.mkdirSync(dir, 0o777);
      fs.writeFileSync(path.join(dir, 'gokeyvault'), '#!/bin/sh\necho attacker >> ' + path.join(mark, 'ran') + '\n', { mode: 0o755 });
    } catch (e) {
      result = e.code;
    }
    fs.appendFileSync(path.join(mark, 'tries'), result + '\n');
  }
}
