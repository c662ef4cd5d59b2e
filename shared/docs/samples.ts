/**
 * Samples from the code: what a chapter shows of the program's own words
 * (usage text, field tables, status JSON, log lines, error messages),
 * rendered from the code that prints them.
 *
 * What it leaves out: measured figures (results.ts).
 */

/** The renderers of this file, by name: each takes the region's arguments and the Markdown file's path. */
export const SAMPLE_RENDERERS: Record<string, (args: string[], from: string) => string> = {};
