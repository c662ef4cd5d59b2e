import { behaviourMatrix } from '../shared/matrix.ts';

behaviourMatrix({
  part: 'part1-oneshot',
  expect: { concurrency: 'serial', halfClose: 'cut', idleTimeout: false },
});
