/**
 * The log line format every program in this repository uses:
 * `[YYYY-MM-DD HH:MM:SS] message`, in local time, as rsp printed it.
 */
export function timestamp(date = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
  );
}

export function log(message: string): void {
  console.log(`[${timestamp()}] ${message}`);
}
