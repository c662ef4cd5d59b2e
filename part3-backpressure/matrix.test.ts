import { behaviourMatrix, defaultBadArgs } from '../shared/test/matrix.ts';

behaviourMatrix({
  part: 'part3-backpressure',
  badArgs: [...defaultBadArgs, ['--idle-timeout', 'soon'], ['--idle-timeout'], ['--bogus']],
});
