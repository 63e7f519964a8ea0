/**
 * Preloaded into the server and its workers (NODE_OPTIONS=--require) by `npm run bench -- --profile`:
 * Node refuses --cpu-prof in NODE_OPTIONS, so this starts the V8 profiler through the inspector and
 * writes `CPU.<pid>.cpuprofile` into NODESERVE_PROFILE_DIR when the process exits. JavaScript only:
 * time in native threads (ONNX Runtime's, libvips's) shows as idle here.
 */
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.NODESERVE_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // An in-process inspector session answers synchronously, so this completes inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('exit', write);
  // The benchmark sends SIGUSR2 right before the measured load: start over, so the profile holds
  // that load and not start-up. Listening also keeps SIGUSR2 from ending the process.
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop');
    session.post('Profiler.start');
  });
}
