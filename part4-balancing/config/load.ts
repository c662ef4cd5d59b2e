/**
 * A configuration file, read and checked: `proxy.ts --config FILE` at start,
 * and again on every reload (SIGHUP). A file that cannot be read, is not JSON
 * or is not a valid configuration is one ConfigError, one line naming the file.
 *
 * What it leaves out: watching the file for changes (a reload is asked for).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Config } from '../config.ts';
import { ConfigError } from '../fields.ts';
import { describeJsonError } from './json-error.ts';
import { parseConfig } from './parse.ts';

/** Larger than this, a configuration file is a mistake (or an attack): it is not read. */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Reads and checks a JSON config file. Rejects with ConfigError.
 *
 * Asynchronous, and only a regular file, and only so much of it: a reload runs
 * while clients are served, so a FIFO put in the file's place must not hang it
 * (O_NONBLOCK: opening a FIFO would wait for a writer, and every reload queued
 * behind this one with it), and /dev/zero must not fill the memory.
 */
export async function loadConfigFile(file: string): Promise<Config> {
  let bytes: Buffer;
  try {
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new ConfigError(`${file}: not a regular file`);
      if (stat.size > MAX_FILE_BYTES) throw tooLarge(file);
      bytes = Buffer.alloc(MAX_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
      if (bytesRead > MAX_FILE_BYTES) throw tooLarge(file);
      bytes = bytes.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // "ENOENT: no such file or directory, open 'x.json'": the file name is already in front.
    const reason = (err as Error).message.replace(/, \w+( '.*')?$/, '');
    throw new ConfigError(`${file}: cannot open: ${reason}`);
  }
  return configFromText(bytes.toString('utf8'), file);
}

/** A configuration file's text, parsed and checked. Throws ConfigError naming `file`. */
export function configFromText(text: string, file: string): Config {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: ${describeJsonError(text, (err as Error).message)}`);
  }
  return parseConfig(json, file);
}

function tooLarge(file: string): ConfigError {
  return new ConfigError(`${file}: larger than ${MAX_FILE_BYTES} bytes, not read`);
}
