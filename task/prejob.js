'use strict';
// prejobexecution entry point: the same launcher, for the stage that runs before the job's steps.
require('./launcher.js').run('prejob');
