// The playground's training loop, off the page's thread: a module worker that loads the browser bundle,
// makes a backend current, and trains a PlaygroundRun (session.js) a slice of steps at a time, posting a
// snapshot after each slice. Between slices it yields to its message queue, so pause, speed and stop
// take effect at once. Messages in: { type: 'start', options }, 'pause', 'resume', { type: 'speed', steps }.
// Messages out: { type: 'ready', backend, info }, { type: 'slice', snapshot }, { type: 'paused' },
// { type: 'error', message }.
import * as wm from '/dist/browser/webmtl.js';
import { initBackend } from '../browser/experiment.js';
import { PlaygroundRun } from './session.js';

let run = null;
let running = false;
let sliceSteps = 5;
let maxSteps = 0;
/** Whether trainLoop is under way (one at a time). */
let looping = false;

const tick = () => new Promise((ok) => setTimeout(ok, 0));

async function trainLoop() {
  while (running && run) {
    const n = maxSteps > 0 ? Math.min(sliceSteps, maxSteps - run.step) : sliceSteps;
    if (n <= 0) {
      running = false;
      postMessage({ type: 'paused', reason: 'steps' });
      break;
    }
    const snapshot = await run.train(n);
    postMessage({ type: 'slice', snapshot });
    await tick();
  }
  looping = false;
}

function startLoop() {
  running = true;
  if (looping) return; // the loop under way sees `running` again
  looping = true;
  trainLoop().catch((e) => {
    running = false;
    looping = false;
    postMessage({ type: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  });
}

self.addEventListener('message', async (event) => {
  const msg = event.data;
  try {
    if (msg.type === 'start') {
      const backend = { ...(await initBackend(wm, msg.options.backend)), navigatorGpu: 'gpu' in navigator };
      sliceSteps = msg.sliceSteps ?? sliceSteps;
      maxSteps = msg.maxSteps ?? 0;
      run = new PlaygroundRun(wm, msg.options);
      postMessage({ type: 'ready', backend, info: run.describe() });
      if (msg.autostart) startLoop();
    } else if (msg.type === 'pause') {
      running = false;
      postMessage({ type: 'paused', reason: 'user' });
    } else if (msg.type === 'resume') {
      if (run) startLoop();
    } else if (msg.type === 'speed') {
      sliceSteps = msg.steps;
    } else if (msg.type === 'maxSteps') {
      maxSteps = msg.steps;
    }
  } catch (e) {
    postMessage({ type: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  }
});
